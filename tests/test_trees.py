import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from cookbook.trees import parse_tree, plot_tree, readable_rules  # noqa: E402

pytestmark = pytest.mark.unit

DUMP = """DecisionTreeClassificationModel: uid=dtc_1, depth=2, numNodes=5, numFeatures=3
  If (feature 1 <= 56898.5)
   If (feature 0 in {1.0})
    Predict: 1.0
   Else (feature 0 not in {1.0})
    Predict: 0.0
  Else (feature 1 > 56898.5)
   Predict: 0.0
"""


def test_readable_rules_names_features():
    text = readable_rules(DUMP, ["typeIndexed", "oldbalanceOrg", "amount"])
    assert "If (oldbalanceOrg <= 56898.5)" in text and "If (typeIndexed in {1.0})" in text
    assert "feature" not in text.split("\n", 1)[1]
    with pytest.raises(ValueError, match="uses feature 1 but only 1 names"):
        readable_rules(DUMP, ["typeIndexed"])


def test_categories_are_decoded():
    text = readable_rules(
        DUMP, ["typeIndexed", "oldbalanceOrg", "amount"],
        {"typeIndexed": ["CASH_OUT", "TRANSFER", "PAYMENT"]},
    )  # fmt: skip
    assert "If (typeIndexed in {TRANSFER})" in text
    assert "Else (typeIndexed not in {TRANSFER})" in text


def test_parse_tree_structure():
    tree = parse_tree(DUMP)
    assert tree["test"] == "feature 1 <= 56898.5"
    assert tree["yes"]["test"] == "feature 0 in {1.0}"
    assert tree["yes"]["yes"] == {"predict": 1.0}
    assert tree["no"] == {"predict": 0.0}
    with pytest.raises(ValueError, match="not a Spark tree dump"):
        parse_tree("hello")


def test_plot_tree_draws_every_node():
    ax = plot_tree(DUMP, ["typeIndexed", "oldbalanceOrg", "amount"], max_depth=3)
    labels = [t.get_text() for t in ax.texts]
    assert "oldbalanceOrg <= 56,898" in labels  # numbers shortened for the drawing
    assert labels.count("predict 1") == 1 and labels.count("predict 0") == 2
