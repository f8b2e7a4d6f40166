"""The only Streamlit code outside pages/: cached resources, shared widgets, error display."""
