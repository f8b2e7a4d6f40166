"""How a training's starting model is said: in the methods paragraph, the reproducibility table, the model
card's methods. Reads the card's ``start`` record (:meth:`core.training.transfer.Transfer.card_record`);
no torch, so pages and reports import it cheaply."""

from __future__ import annotations

SHORT_HASH = 12


def initialisation(start: object) -> str:
    """The network's initial weights in a phrase: "randomly initialised (no pretrained weights)" or
    "initialised from the trained model 'Nuclei v2' (fine-tuned)"."""
    if not isinstance(start, dict) or not start.get("name"):
        return "randomly initialised (no pretrained weights)"
    return f"initialised from the trained model {start['name']!r} (fine-tuned)"


def start_sentence(start: object) -> str:
    """The methods' sentences on the starting model: which model (name, key, weights hash, what it was
    trained for), what was kept and what is new; "" without one."""
    if not isinstance(start, dict) or not start.get("name"):
        return ""
    digest = str(start.get("sha256") or "")
    trained = str(start.get("task") or start.get("training_type") or "")
    labels = [str(n) for n in start.get("labels") or []]
    what = f", trained for {trained}" + (f" of {', '.join(labels)}" if labels else "") if trained else ""
    sentence = (f"Training started from the weights of the model {start['name']!r} ({start.get('key', '')}"
                f"{what}; weights SHA-256 {digest[:SHORT_HASH]}…).")
    kept, new = list(start.get("kept") or []), list(start.get("new") or [])
    if kept:
        sentence += f" Kept from it: {'; '.join(kept)}."
    if new:
        sentence += f" New: {'; '.join(new)}."
    return sentence


def start_reproducibility(start: object) -> dict[str, str]:
    """The reproducibility table's rows on the starting model (none without one)."""
    if not isinstance(start, dict) or not start.get("name"):
        return {}
    return {"starting_model": f"{start['name']} ({start.get('key', '')})",
            "starting_model_sha256": str(start.get("sha256") or "")}
