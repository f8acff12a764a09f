"""Great Expectations suites for claim batches and CMS reference files (docs/validation.md)."""
