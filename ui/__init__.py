"""The only Streamlit code outside screens/: cached resources, shared widgets, error display."""
