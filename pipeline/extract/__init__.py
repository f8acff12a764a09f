"""Readers for claim batches and CMS reference files."""
