"""Readable Spark ML decision trees: feature names in the rules, and a drawing.

Spark's ``DecisionTreeClassificationModel.toDebugString`` prints ``If (feature 3 <= 56898.5)``.
:func:`readable_rules` puts the feature names back; :func:`parse_tree` turns the text into nested
dicts; :func:`plot_tree` draws the top levels with matplotlib (no Graphviz needed).
"""

from __future__ import annotations

import re

_FEATURE = re.compile(r"feature (\d+)")


_NUMBER = re.compile(r"-?\d+\.\d+(?:E-?\d+)?")


def readable_rules(
    debug_string: str, feature_names: list[str], categories: dict[str, list[str]] | None = None
) -> str:
    """The tree's if/else rules with ``feature i`` replaced by its name.

    ``categories`` maps an indexed categorical feature to its labels (e.g. a ``StringIndexer``'s
    ``labels``), so that ``typeIndexed in {1.0,4.0}`` reads ``typeIndexed in {CASH_OUT,DEBIT}``.
    """

    def name(match: re.Match) -> str:
        index = int(match.group(1))
        if index >= len(feature_names):
            raise ValueError(
                f"the tree uses feature {index} but only {len(feature_names)} names were given"
            )
        return feature_names[index]

    text = _FEATURE.sub(name, debug_string)
    for feature, labels in (categories or {}).items():

        def decode(match: re.Match, labels=labels) -> str:
            values = [v.strip() for v in match.group(3).split(",") if v.strip()]
            names = [labels[int(float(v))] if int(float(v)) < len(labels) else v for v in values]
            return f"{match.group(1)} {match.group(2)} {{{','.join(names)}}}"

        pattern = re.compile(rf"({re.escape(feature)}) (not in|in) \{{([^}}]*)\}}")
        text = pattern.sub(decode, text)
    return text


def parse_tree(debug_string: str) -> dict:
    """Parse ``toDebugString`` into ``{"test": str, "yes": node, "no": node}`` / ``{"predict"}``.

    ``test`` is the condition of the ``If`` line (the ``yes`` branch is taken when it holds).
    """
    lines = [ln for ln in debug_string.splitlines() if ln.strip()]
    body = [ln for ln in lines if ln.strip().startswith(("If", "Else", "Predict"))]
    pos = 0

    def node() -> dict:
        nonlocal pos
        text = body[pos].strip()
        pos += 1
        if text.startswith("Predict:"):
            return {"predict": float(text.split(":", 1)[1])}
        if not text.startswith("If ("):
            raise ValueError(f"unexpected line in a tree dump: {text!r}")
        test = text[len("If (") : -1]
        yes = node()
        if pos >= len(body) or not body[pos].strip().startswith("Else ("):
            raise ValueError(f"no Else branch for: {text!r}")
        pos += 1
        no = node()
        return {"test": test, "yes": yes, "no": no}

    if not body:
        raise ValueError("not a Spark tree dump: no If/Else/Predict lines")
    return node()


def _short(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if abs(value) >= 0.01 else f"{value:.3g}"


def plot_tree(
    debug_string, feature_names, max_depth=3, class_names=("0", "1"), categories=None, ax=None
):
    """Draw the top ``max_depth`` levels of a Spark decision tree; returns the axes."""
    import matplotlib.pyplot as plt

    tree = parse_tree(readable_rules(debug_string, feature_names, categories))

    def leaves(n, depth):
        if "predict" in n or depth == max_depth:
            return 1
        return leaves(n["yes"], depth + 1) + leaves(n["no"], depth + 1)

    total = leaves(tree, 0)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(18, 2.3 * total), 1.5 * (max_depth + 1)))
    ax.set_axis_off()
    box = {"boxstyle": "round,pad=0.3", "fc": "white", "ec": "grey"}

    def draw(n, depth, left, parent=None, edge=""):
        width = leaves(n, depth)
        x, y = (left + width / 2) / total, 1 - (depth + 0.5) / (max_depth + 1)
        if "predict" in n:
            label = f"predict {class_names[int(n['predict'])]}"
            style = {**box, "fc": "#fde0dd" if n["predict"] else "#e5f5e0"}
        elif depth == max_depth:
            label, style = "...", box
        else:  # short numbers: 56898.5 -> 56,898, 1.1368683772161603E-13 -> 1.14e-13
            label, style = _NUMBER.sub(lambda m: _short(float(m.group())), n["test"]), box
        ax.text(x, y, label, ha="center", va="center", fontsize=8, bbox=style)
        if parent:
            ax.annotate("", xy=(x, y + 0.03), xytext=(parent[0], parent[1] - 0.03),
                        arrowprops={"arrowstyle": "->", "color": "grey"})  # fmt: skip
            ax.text((x + parent[0]) / 2, (y + parent[1]) / 2, edge, fontsize=7, color="grey")
        if "predict" not in n and depth < max_depth:
            w_yes = leaves(n["yes"], depth + 1)
            draw(n["yes"], depth + 1, left, (x, y), "yes")
            draw(n["no"], depth + 1, left + w_yes, (x, y), "no")

    draw(tree, 0, 0)
    return ax
