"""Image classification: examples, training, prediction (no database, no streamlit)."""
