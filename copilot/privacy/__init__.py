"""Personal-data protection: masking PII in text before it is stored, logged or sent."""
