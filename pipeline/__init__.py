"""Claims-scrubbing pipeline: price professional claims on the Medicare fee schedule."""

__version__ = "0.1.0"
