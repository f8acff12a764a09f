"""`claims-scrub explain CODE`: one code's fee breakdown, edits, billing tips and denials."""
