"""Home's "segment nuclei now": a link to Apply with a shipped model chosen, for each starter present."""

from __future__ import annotations

import streamlit as st

from core.config import Settings
from core.starters import STARTERS
from core.training.package_files import CARD


def starter_links(settings: Settings) -> None:
    """One bordered box per shipped starter whose package is present: what it does and a link to Apply."""
    if not settings.shipped_models:
        return
    for entry in STARTERS.values():
        if not (entry.folder / CARD).exists():
            continue
        with st.container(border=True):
            st.markdown(f"**Segment {entry.key} now**")
            st.caption(f"The {entry.name} {entry.summary}: upload your images on the Apply page, or apply it "
                       "to a project's images. Fine-tune it on a few of your own annotations in the wizard.")
            st.page_link("pages/apply.py", label=f"Segment {entry.key} now", icon=":material/auto_awesome:",
                         query_params={"model": entry.catalog_key})
