"""Loading of local ML models (embedders, rerankers), offline only."""
