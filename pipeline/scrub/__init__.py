"""Pricing and edits over whole batches."""
