"""ner-bilstm: BiLSTM-CRF named-entity recognition you can train on a laptop CPU."""

__version__ = "0.1.0"
