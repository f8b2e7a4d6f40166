"""segstudio core: the product's logic. Never imports streamlit."""

__version__ = "0.1.0"
