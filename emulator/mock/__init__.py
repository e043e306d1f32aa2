"""Mock mode: generated answers before the back end exists."""
