"""Input checks run before pricing."""
