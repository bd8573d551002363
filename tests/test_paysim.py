import numpy as np
import pandas as pd
import pytest

from cookbook.datasets import DatasetFormatError, DatasetUnavailableError, paysim

pytestmark = pytest.mark.unit


def rule(df):
    """The chapter's expert rule, in pandas (the notebook applies it in Spark SQL)."""
    o, t = df["oldbalanceOrg"], df["type"]
    return (
        ((o <= 56900) & (t == "TRANSFER") & (df["newbalanceDest"] <= 105))
        | ((o > 56900) & (df["newbalanceOrig"] <= 12))
        | ((o > 56900) & (df["newbalanceOrig"] > 12) & (df["amount"] > 1_160_000))
    )


@pytest.fixture(scope="module")
def sim():
    return paysim.simulate(200_000, seed=11)


def test_format_and_type_mix(sim, tmp_path):
    path = paysim.generate(tmp_path, n_rows=5_000, seed=3)
    assert path.name == paysim.FILENAME
    assert path.read_text().split("\n", 1)[0] == ",".join(paysim.COLUMNS)
    df = pd.read_csv(path)
    assert len(df) == 5_000 and list(df.columns) == list(paysim.COLUMNS)
    assert df["step"].between(1, 744).all() and df["step"].is_monotonic_increasing
    mix = sim["type"].value_counts(normalize=True)
    for kind, share in paysim.TYPE_MIX.items():
        assert mix[kind] == pytest.approx(share, abs=0.01)
    assert sim["nameOrig"].str.match(r"^C\d+$").all()
    payments = sim[sim["type"] == "PAYMENT"]
    assert payments["nameDest"].str.startswith("M").all()
    assert (payments[["oldbalanceDest", "newbalanceDest"]] == 0).all().all()  # merchants


def test_balances_move_consistently(sim):
    debit = sim[(sim["type"] != "CASH_IN") & (sim["oldbalanceOrg"] > 0)]
    np.testing.assert_allclose(
        debit["newbalanceOrig"], debit["oldbalanceOrg"] - debit["amount"], atol=0.02
    )
    cash_in = sim[sim["type"] == "CASH_IN"]
    np.testing.assert_allclose(
        cash_in["newbalanceOrig"], cash_in["oldbalanceOrg"] + cash_in["amount"], atol=0.02
    )
    balances = ["oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest"]
    assert (sim[balances] >= 0).all().all()
    # an account's balance carries over from one transaction to its next
    tracked = sim[sim["oldbalanceDest"] + sim["newbalanceDest"] > 0]
    for _, rows in list(tracked.groupby("nameDest"))[:200]:
        if len(rows) > 1:
            np.testing.assert_allclose(
                rows["oldbalanceDest"].to_numpy()[1:], rows["newbalanceDest"].to_numpy()[:-1],
                atol=0.05,
            )  # fmt: skip


def test_fraud_empties_an_account_then_cashes_out(sim):
    fraud = sim[sim["isFraud"] == 1]
    assert len(fraud) / len(sim) == pytest.approx(0.0013, rel=0.1)
    transfers = fraud[fraud["type"] == "TRANSFER"]
    assert (transfers["newbalanceOrig"] == 0).all()
    assert (transfers["amount"] == transfers["oldbalanceOrg"]).all()
    nxt = sim.loc[transfers.index + 1]
    assert (nxt["type"] == "CASH_OUT").all() and (nxt["isFraud"] == 1).all()
    assert (nxt["nameOrig"].to_numpy() == transfers["nameDest"].to_numpy()).all()  # the mule
    assert (nxt["amount"].to_numpy() == transfers["amount"].to_numpy()).all()


def test_the_rule_flags_about_four_percent_and_eleven_percent_of_money(sim):
    flagged = rule(sim)
    assert 0.03 <= flagged.mean() <= 0.05
    assert 0.08 <= sim.loc[flagged, "amount"].sum() / sim["amount"].sum() <= 0.15


def test_header_errors_name_the_column_and_the_misspelling(tmp_path):
    path = tmp_path / "tx.csv"
    header = ",".join(paysim.COLUMNS).replace("oldbalanceOrg", "oldBalanceOrig")
    path.write_text(header + "\n")
    with pytest.raises(
        DatasetFormatError, match=r"tx\.csv: missing column\(s\) oldbalanceOrg .*'oldBalanceOrig'"
    ):
        paysim.check_header(path)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        paysim.check_header(tmp_path / "nope.csv")


def test_real_samples_need_the_mirror(no_mirror):
    with pytest.raises(DatasetUnavailableError, match="kaggle datasets download"):
        paysim.fetch_real()


@pytest.mark.spark
@pytest.mark.slow
def test_read_spark_sets_malformed_rows_aside(tmp_path):
    from cookbook.spark import get_spark

    good = "1,PAYMENT,9839.64,C1231006815,170136.0,160296.36,M1979787155,0.0,0.0,0,0"
    lines = [
        ",".join(paysim.COLUMNS),
        good,
        "1,PAYMENT,-5.0,C1,10.0,15.0,M2,0.0,0.0,0,0",
        "1,BITCOIN,9.0,C3,10.0,1.0,M4,0.0,0.0,0,0",
        "1,TRANSFER,abc,C5,10.0,1.0,C6,0.0,0.0,0,0",
        "2,TRANSFER,181.0,C1305486145,181.0,0.0,C553264065,0.0,0.0,1,0",
    ]
    path = tmp_path / "tx.csv"
    path.write_text("\n".join(lines) + "\n")
    transactions, rejected = paysim.read_spark(get_spark(), path)
    assert transactions.count() == 2
    assert dict(transactions.dtypes)["amount"] == "double"
    reasons = {r.line.split(",")[3]: r.reason for r in rejected.collect()}
    assert reasons == {
        "C1": "amount is negative",
        "C3": "type is not one of CASH_IN/CASH_OUT/DEBIT/PAYMENT/TRANSFER",
        "C5": "amount is missing or not a number",
    }


@pytest.mark.realdata
def test_real_samples_match_sources_md(mirror):
    df = pd.read_csv(paysim.fetch_real("paysim_sample_allfraud_33k.csv"))
    assert len(df) == 33_000 and int(df["isFraud"].sum()) == 8_213
    head = pd.read_csv(paysim.fetch_real("paysim_head_2688.csv"))
    assert len(head) == 2_688 and (head["step"] == 1).all()
