"""The resolver Lambda: one powertools Router per feature, wired in bootstrap."""
