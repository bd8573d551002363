"""PaySim mobile-money transactions (chapter 5): Spark reader with validation, spec, simulator.

The PaySim log (E. A. Lopez-Rojas et al.; CC BY-SA 4.0) has one row per transaction:
``step`` (hour, 1..744), ``type`` (CASH_IN, CASH_OUT, DEBIT, PAYMENT, TRANSFER), ``amount``,
``nameOrig``, ``oldbalanceOrg``, ``newbalanceOrig``, ``nameDest``, ``oldbalanceDest``,
``newbalanceDest``, ``isFraud``, ``isFlaggedFraud``. Customers are named ``C...``, merchants
``M...``; merchants have no balance information (zeros).

:func:`read_spark` reads the CSV with Spark (never through the driver's memory), checks the
header, and splits malformed rows (unparseable numbers, negative amounts, unknown types) from the
good ones, so that one bad row is reported rather than fatal. :func:`generate` is a PaySim-like
simulator written for this project; see its docstring. :func:`prepare` returns a
:class:`PaysimFiles` for either source.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from cookbook.datasets._fetch import DownloadSpec, RemoteFile, fetch
from cookbook.datasets._files import check_file_ends_with_newline
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.datasets.errors import DatasetFormatError
from cookbook.io import atomic_open

NAME = "paysim"
FILENAME = "PS_20174392719_1491204439457_log.csv"  # the Kaggle download's file name
COLUMNS = (
    "step", "type", "amount", "nameOrig", "oldbalanceOrg", "newbalanceOrig", "nameDest",
    "oldbalanceDest", "newbalanceDest", "isFraud", "isFlaggedFraud",
)  # fmt: skip
TYPES = ("CASH_IN", "CASH_OUT", "DEBIT", "PAYMENT", "TRANSFER")
N_STEPS = 744
GENERATOR_VERSION = 1
# The generator's parameters and their defaults (read-only), for generate() and prepare().
DEFAULTS = MappingProxyType({"n_rows": 500_000, "seed": 11})
# The mirror's sample that prepare("real") reads unless told otherwise.
REAL_SAMPLE = "paysim_sample_allfraud_33k.csv"

_SAMPLES = {
    "paysim_head_2688.csv": "7ea257043817bab5dda51c7576f5ea1203044857e7b12eedfccfc5b546a69268",
    "paysim_sample_allfraud_33k.csv": (
        "324a48b0827cefc228eeb2741d5745b10354c51e6c4e469928f920820b69b66b"
    ),
}
SPEC = DownloadSpec(
    name=NAME,
    title="PaySim synthetic mobile-money transactions (Kaggle ealaxi/paysim1)",
    homepage="https://www.kaggle.com/datasets/ealaxi/paysim1",
    license="CC BY-SA 4.0 (E. A. Lopez-Rojas, A. Elmir, S. Axelsson)",
    files=tuple(
        RemoteFile(filename=name, url=None, sha256=sha, mirror_path=f"{NAME}/{name}")
        for name, sha in _SAMPLES.items()
    ),
    manual_instructions=(
        "The full log (6,362,620 rows, 470 MB) needs a Kaggle account: sign in, create an API\n"
        "token (~/.kaggle/kaggle.json), then\n"
        "  pip install kaggle && kaggle datasets download -d ealaxi/paysim1 --unzip\n"
        f"and pass the CSV as DATA_PATH. The mirror's samples are {', '.join(_SAMPLES)}:\n"
        "the first 2,688 rows of the log (original order and prevalence), and every fraud row\n"
        "plus a random legitimate sample (fraud-enriched, 24.9% fraud)."
    ),
)


@dataclass(frozen=True)
class PaysimFiles:
    """What :func:`prepare` returns.

    - ``csv``: the transaction log (read it with :func:`read_spark`): the synthetic
      ``PS_20174392719_1491204439457_log.csv``, or one of the mirror's real samples;
    - ``source``: ``"synthetic"`` or ``"real"``.
    """

    csv: Path
    source: str


def fetch_real(sample: str = REAL_SAMPLE, config: dict | None = None) -> Path:
    """Path to one of the real samples (cache -> ``$COOKBOOK_DATA_MIRROR``; no public URL)."""
    return fetch(SPEC, sample, config=config)


# --------------------------------------------------------------------------- reading


def check_header(path: str | Path) -> list[str]:
    """Read the first line and check the columns; raise :class:`DatasetFormatError` naming the
    file and each missing column (with the closest actual name, for misspellings), or saying
    that the file is cut in the middle of its last row (no final line break: truncated)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"transactions file not found: {path}")
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = [c.strip() for c in fh.readline().rstrip("\r\n").split(",")]
    check_file_ends_with_newline(path)
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        hints = []
        for col in missing:
            close = difflib.get_close_matches(col, header, n=1, cutoff=0.7)
            hints.append(f"{col} (found {close[0]!r}: misspelled?)" if close else col)
        raise DatasetFormatError(
            f"{path}: missing column(s) {', '.join(hints)}; expected {', '.join(COLUMNS)}"
        )
    return header


def read_spark(spark, path: str | Path):
    """Read a PaySim CSV with Spark; return ``(transactions, rejected)`` DataFrames.

    ``transactions`` has the PaySim schema (typed). ``rejected`` holds each malformed row as
    ``line`` plus a ``reason`` (the first problem found): more or fewer fields than the header,
    a number that does not parse, a number that is NaN or infinite, a negative amount or
    balance, a ``step`` outside 1..744, an ``isFraud``/``isFlaggedFraud`` other than 0 or 1, an
    unknown ``type``, an account name that is not ``C``/``M`` and digits, or a missing value.
    Both are lazy: nothing is collected to the driver. A file-level problem (missing columns, a
    last row cut short) raises :class:`DatasetFormatError` at once (see :func:`check_header`).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    header = check_header(path)
    corrupt = "_corrupt_record"
    raw = spark.read.csv(
        str(path),
        header=True,
        schema=StructType(
            [StructField(c, StringType()) for c in header] + [StructField(corrupt, StringType())]
        ),
        mode="PERMISSIVE",
        columnNameOfCorruptRecord=corrupt,
    )
    numeric = {
        "step": "int",
        "amount": "double",
        "oldbalanceOrg": "double",
        "newbalanceOrig": "double",
        "oldbalanceDest": "double",
        "newbalanceDest": "double",
        "isFraud": "int",
        "isFlaggedFraud": "int",
    }
    typed = raw.select(
        *[
            F.expr(f"try_cast(trim({c}) AS {numeric[c]})").alias(c) if c in numeric else F.col(c)
            for c in COLUMNS
        ],
        F.coalesce(
            F.col(corrupt),
            F.concat_ws(",", *[F.coalesce(F.col(c), F.lit("")) for c in header]),
        ).alias("line"),
        F.col(corrupt).isNotNull().alias("_malformed"),
    )
    doubles = [c for c, kind in numeric.items() if kind == "double"]
    checks = [
        (
            F.col("_malformed"),
            f"the row does not have the header's {len(header)} comma-separated fields",
        ),
        *[(F.col(c).isNull(), f"{c} is missing or not a number") for c in numeric],
        *[
            (F.isnan(c) | (F.abs(c) == float("inf")), f"{c} is not a finite number (NaN/Infinity)")
            for c in doubles
        ],
        *[(F.col(c).isNull(), f"{c} is missing") for c in ("type", "nameOrig", "nameDest")],
        (~F.col("type").isin(*TYPES), "type is not one of " + "/".join(TYPES)),
        (~F.col("step").between(1, N_STEPS), f"step is not an hour from 1 to {N_STEPS}"),
        *[(~F.col(c).isin(0, 1), f"{c} is not 0 or 1") for c in ("isFraud", "isFlaggedFraud")],
        *[
            (~F.col(c).rlike("^[CM][0-9]+$"), f"{c} is not an account name (C or M, then digits)")
            for c in ("nameOrig", "nameDest")
        ],
        (F.col("amount") < 0, "amount is negative"),
        *[
            (F.col(c) < 0, f"{c} is negative")
            for c in ("oldbalanceOrg", "newbalanceOrig", "oldbalanceDest", "newbalanceDest")
        ],
    ]
    reason = F.lit(None).cast("string")
    for condition, text in reversed(checks):
        reason = F.when(condition, F.lit(text)).otherwise(reason)
    flagged = typed.withColumn("reason", reason)
    transactions = flagged.where(F.col("reason").isNull()).select(*COLUMNS)
    rejected = flagged.where(F.col("reason").isNotNull()).select("line", "reason")
    return transactions, rejected


# --------------------------------------------------------------------------- simulator

TYPE_MIX = {"CASH_OUT": 0.352, "PAYMENT": 0.338, "CASH_IN": 0.220, "TRANSFER": 0.084,
            "DEBIT": 0.006}  # fmt: skip
# median amount and log-normal spread per type (the original's medians and mean/median ratios)
AMOUNTS = {"CASH_IN": (143_000, 0.56), "CASH_OUT": (147_000, 0.60), "DEBIT": (3_000, 0.8),
           "PAYMENT": (9_500, 0.79), "TRANSFER": (486_000, 1.12)}  # fmt: skip
HOUR_PROFILE = np.array(
    [0.3, 0.15, 0.1, 0.08, 0.08, 0.1, 0.3, 0.6, 0.9, 1.1, 1.2, 1.3, 1.3, 1.3, 1.25, 1.2, 1.2,
     1.25, 1.3, 1.3, 1.2, 1.0, 0.8, 0.5]
)  # fmt: skip
MAX_AMOUNT = 10_000_000.0  # PaySim splits larger transfers
# share of origin accounts with no recorded balance (0 -> 0), by type; large in the original,
# above all for transfers and cash-outs
NO_INFO_SHARE = {"CASH_OUT": 0.45, "PAYMENT": 0.3, "DEBIT": 0.3, "TRANSFER": 0.8}


def _names(rng, prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, rng.integers(10**8, 2 * 10**9, n).astype(str))


def simulate(
    n_rows: int,
    seed: int = DEFAULTS["seed"],
    fraud_rate: float = 0.0013,
    no_info_share: dict | None = None,
    empty_share: float = 0.16,
    external_share: float = 0.07,
) -> pd.DataFrame:
    """A PaySim-like month of transactions (see :func:`generate`), as a DataFrame."""
    rng = np.random.default_rng(seed)
    hours = np.tile(HOUR_PROFILE, N_STEPS // 24 + 1)[:N_STEPS]
    step = np.sort(rng.choice(np.arange(1, N_STEPS + 1), n_rows, p=hours / hours.sum()))
    types = np.array(list(TYPE_MIX))
    kind = rng.choice(types, n_rows, p=np.array(list(TYPE_MIX.values())) / sum(TYPE_MIX.values()))
    amount = np.empty(n_rows)
    for t, (median, sigma) in AMOUNTS.items():
        sel = kind == t
        amount[sel] = median * np.exp(sigma * rng.standard_normal(sel.sum()))
    amount = np.round(np.minimum(amount, MAX_AMOUNT), 2)

    # origin accounts: one-off customers, as in PaySim, with a balance consistent with the row
    name_orig = _names(rng, "C", n_rows)
    debit = kind != "CASH_IN"
    share = pd.Series(no_info_share or NO_INFO_SHARE).reindex(kind).fillna(0.0).to_numpy()
    no_info = debit & (rng.random(n_rows) < share)  # balance not recorded: 0 -> 0
    empties = debit & ~no_info & (rng.random(n_rows) < empty_share)  # withdraws everything
    extra = np.round(np.exp(rng.normal(10.5, 2.0, n_rows)), 2)
    old_org = np.where(debit, amount + np.where(empties, 0.0, extra), extra)
    new_org = np.where(debit, old_org - amount, old_org + amount)
    old_org[no_info] = new_org[no_info] = 0.0

    # fraud: a TRANSFER empties a victim's account into a mule, the mule cashes it all out
    n_pairs = int(round(fraud_rate * n_rows / 2))
    starts = rng.choice(np.arange(0, n_rows - 1, 2), n_pairs, replace=False)
    is_fraud = np.zeros(n_rows, dtype=np.int64)
    mule = _names(rng, "C", n_pairs)
    stolen = np.round(np.minimum(np.exp(rng.normal(12.3, 1.4, n_pairs)), MAX_AMOUNT), 2)
    t_row, c_row = starts, starts + 1
    kind[t_row], kind[c_row] = "TRANSFER", "CASH_OUT"
    step[c_row] = step[t_row]
    amount[t_row] = amount[c_row] = stolen
    old_org[t_row], new_org[t_row] = stolen, 0.0
    name_orig[c_row], old_org[c_row], new_org[c_row] = mule, stolen, 0.0
    is_fraud[t_row] = is_fraud[c_row] = 1

    # destinations: merchants (no balances), cash agents, customer accounts (tracked balances),
    # and external accounts with no balance information
    n_agents = max(50, n_rows // 40)
    n_customers = max(200, n_rows // 4)
    dest_id = np.full(n_rows, -1)
    agent_rows = np.isin(kind, ["CASH_IN", "CASH_OUT"])
    dest_id[agent_rows] = rng.integers(0, n_agents, agent_rows.sum())
    cust_rows = np.isin(kind, ["TRANSFER", "DEBIT"]) & (rng.random(n_rows) >= external_share)
    cust_rows[t_row] = False
    dest_id[cust_rows] = n_agents + rng.integers(0, n_customers, cust_rows.sum())
    names = _names(rng, "C", n_agents + n_customers)
    name_dest = np.where(kind == "PAYMENT", _names(rng, "M", n_rows), _names(rng, "C", n_rows))
    tracked = dest_id >= 0
    name_dest[tracked] = names[dest_id[tracked]]
    name_dest[t_row] = mule
    delta = np.where(kind == "CASH_IN", -amount, amount) * tracked
    # each account's balance before each row = its opening balance + all earlier deltas
    order = np.lexsort((np.arange(n_rows), dest_id))
    d_sorted, delta_sorted = dest_id[order], delta[order]
    cum = np.cumsum(delta_sorted)
    first = np.r_[True, d_sorted[1:] != d_sorted[:-1]]
    group_start = np.maximum.accumulate(np.where(first, np.arange(n_rows), 0))
    before = cum - delta_sorted - (cum[group_start] - delta_sorted[group_start])
    lowest = pd.Series(np.minimum(before, before + delta_sorted)).groupby(d_sorted).transform("min")
    opening = np.round(np.exp(rng.normal(11.5, 1.6, n_agents + n_customers)), 2)
    need = np.maximum(0.0, -lowest.to_numpy())  # agents never go below zero
    start_balance = np.where(d_sorted >= 0, opening[np.maximum(d_sorted, 0)] + need, 0.0)
    old_dest = np.empty(n_rows)
    old_dest[order] = start_balance + before
    new_dest = old_dest + delta
    old_dest[~tracked] = new_dest[~tracked] = 0.0
    old_dest[t_row], new_dest[t_row] = 0.0, stolen  # the mule's fresh account

    flagged = (kind == "TRANSFER") & (is_fraud == 1) & (amount >= MAX_AMOUNT)
    return pd.DataFrame(
        {
            "step": step,
            "type": kind,
            "amount": amount,
            "nameOrig": name_orig,
            "oldbalanceOrg": np.round(old_org, 2),
            "newbalanceOrig": np.round(new_org, 2),
            "nameDest": name_dest,
            "oldbalanceDest": np.round(old_dest, 2),
            "newbalanceDest": np.round(new_dest, 2),
            "isFraud": is_fraud,
            "isFlaggedFraud": flagged.astype(np.int64),
        }
    )


def generate(
    folder: str | Path, n_rows: int = DEFAULTS["n_rows"], seed: int = DEFAULTS["seed"]
) -> Path:
    """Write a synthetic PaySim log of ``n_rows`` transactions (the original has 6,362,620).

    The simulator, written for this project, keeps PaySim's format and behaviour:

    - 744 hourly steps (30 days) with a daily activity cycle; the original's type mix and
      per-type log-normal amounts, capped at 10 million per transaction;
    - every balance moves consistently with its row: origin ``new = old -/+ amount``;
      cash agents and customer accounts receiving money carry their balances from one
      transaction to the next; merchants and external accounts show no balance (zeros);
    - some legitimate customers withdraw or transfer their whole balance, some accounts have no
      recorded balance, as in the original;
    - fraud (0.13% of rows, as in the original): a TRANSFER empties a victim's account into a
      mule account, and the mule cashes the same amount out at once (``isFraud = 1``).

    Calibrated so that the chapter's expert rule flags about 4% of the rows and 11% of the amount,
    as on the original. Writes in chunks to a temporary file, renamed when complete.
    """
    frame = simulate(n_rows, seed=seed)
    target = Path(folder) / FILENAME
    with atomic_open(target, "w", newline="", encoding="ascii") as fh:
        fh.write(",".join(COLUMNS) + "\n")
        for start in range(0, n_rows, 250_000):
            frame.iloc[start : start + 250_000].to_csv(
                fh, header=False, index=False, lineterminator="\n", float_format="%.2f"
            )
    return target


def prepare(
    source: str = "synthetic",
    *,
    n_rows: int = DEFAULTS["n_rows"],
    seed: int = DEFAULTS["seed"],
    real_sample: str = REAL_SAMPLE,
    config: dict | None = None,
) -> PaysimFiles:
    """The files for ``source``: ``"synthetic"`` (simulated once per size and seed, cached) or
    ``"real"`` (``real_sample``, one of the mirror's samples). The generator's parameters are
    ignored for ``"real"``, ``real_sample`` for ``"synthetic"``."""
    if check_source(source) == "real":
        return PaysimFiles(csv=fetch_real(real_sample, config), source=source)
    params = {"n_rows": n_rows, "seed": seed}
    folder = ensure_generated(NAME, params, generate, config, version=GENERATOR_VERSION)
    return PaysimFiles(csv=folder / FILENAME, source=source)
