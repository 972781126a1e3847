"""Data generators: synthetic marker datasets and the simulated ALOHA demonstrations."""
