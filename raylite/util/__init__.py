"""raylite.util: helpers with Ray's names."""
