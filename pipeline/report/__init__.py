"""Scored reports and their storage."""
