"""BigQuery schemas and expirations BigQuery refuses, and retentions Cloud Storage refuses: edits of
test_value_checks.BASE with their errors."""

from __future__ import annotations

TABLES = "    logs: {}\n"
"""Where the BigQuery cases add a dataset with tables."""


def _tables(body: str) -> tuple[str, str]:
    return TABLES, TABLES + "    features:\n      tables:\n" + body


TX_SCHEMA = """\
        tx:
          schema:
            - {name: event_time, type: TIMESTAMP}
            - {name: event_date, type: DATE}
            - {name: amount, type: FLOAT64}
            - {name: site, type: STRING}
            - {name: tags, type: STRING, mode: REPEATED}
            - name: payload
              type: RECORD
              fields:
                - {name: id, type: STRING}
"""

BIGQUERY_CASES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "generated tables kept less than a day": (
        [("    logs: {}\n", "    logs: {generatedTables: {retention: 12h}}\n")],
        [
            "mlops.yaml:13:41: error E205: invalid data.datasets.logs.generatedTables: retention 12h is "
            "shorter than 1d, a day's partition",
        ],
    ),
    "duplicate columns differing in case": (
        [
            _tables(
                "        tx:\n          schema:\n            - {name: amount, type: FLOAT64}\n"
                "            - {name: Amount, type: NUMERIC}\n"
            )
        ],
        [
            "mlops.yaml:19:22: error E205: table 'tx' of dataset 'features' declares column 'Amount' "
            "twice ('amount' and 'Amount' differ only in case): BigQuery compares column names without "
            "case\n  hint: rename or remove one of the two columns",
        ],
    ),
    "duplicate nested columns": (
        [_tables(TX_SCHEMA + "                - {name: ID, type: INT64}\n")],
        [
            "mlops.yaml:27:26: error E205: table 'tx' of dataset 'features' declares column "
            "'payload.ID' twice ('id' and 'ID' differ only in case): BigQuery compares column names "
            "without case\n  hint: rename or remove one of the two columns",
        ],
    ),
    "partitioned on a missing column": (
        [_tables(TX_SCHEMA + "          partitioning: {field: event_tme}\n")],
        [
            "mlops.yaml:27:33: error E301: the partitioning field 'event_tme' of table 'tx' of dataset "
            "'features' is not a top-level column of its schema\n  hint: did you mean 'event_time'?",
        ],
    ),
    "partitioned on a STRING column": (
        [_tables(TX_SCHEMA + "          partitioning: {field: site}\n")],
        [
            "mlops.yaml:27:33: error E204: table 'tx' of dataset 'features' is partitioned on 'site', "
            "a STRING column; BigQuery partitions on a TIMESTAMP, DATE or DATETIME column\n  hint: "
            "partition on one of: event_time, event_date",
        ],
    ),
    "partitioned by hour on a DATE column": (
        [_tables(TX_SCHEMA + "          partitioning: {type: HOUR, field: event_date}\n")],
        [
            "mlops.yaml:27:32: error E204: table 'tx' of dataset 'features' is partitioned by HOUR on "
            "'event_date', a DATE column, which has no hours\n  hint: partition by DAY, MONTH or YEAR, "
            "or on a TIMESTAMP or DATETIME column",
        ],
    ),
    "partitioned on a DATE column by month": (
        [_tables(TX_SCHEMA + "          partitioning: {type: MONTH, field: event_date}\n")],
        [],
    ),
    "clustered on a nested, a FLOAT64 and a repeated column": (
        [_tables(TX_SCHEMA + "          clustering: [id, amount, tags, site]\n")],
        [
            "mlops.yaml:27:24: error E301: the clustering column 'id' of table 'tx' of dataset "
            "'features' is not a top-level column of its schema\n  hint: top-level columns: "
            "event_time, event_date, amount, site, tags, payload",
            "mlops.yaml:27:28: error E204: table 'tx' of dataset 'features' is clustered on 'amount', "
            "a FLOAT64 column, which BigQuery cannot cluster on\n  hint: cluster on one of: "
            "event_time, event_date, site",
            "mlops.yaml:27:36: error E204: table 'tx' of dataset 'features' is clustered on 'tags', a "
            "REPEATED STRING column, which BigQuery cannot cluster on\n  hint: cluster on one of: "
            "event_time, event_date, site",
        ],
    ),
    "clustered on a column twice": (
        [_tables(TX_SCHEMA + "          clustering: [site, SITE]\n")],
        [
            "mlops.yaml:27:30: error E205: table 'tx' of dataset 'features' lists clustering column "
            "'SITE' twice\n  hint: list each clustering column once",
        ],
    ),
    "a RECORD without fields and a STRING with them": (
        [
            _tables(
                "        tx:\n          schema:\n            - {name: payload, type: RECORD}\n"
                "            - name: site\n              type: STRING\n"
                "              fields: [{name: id, type: INT64}]\n"
            )
        ],
        [
            "mlops.yaml:18:37: error E205: table 'tx' of dataset 'features' declares RECORD column 'payload' "
            "without 'fields': BigQuery needs at least one nested column\n  hint: list its nested columns "
            "under 'fields'",
            "mlops.yaml:21:23: error E205: table 'tx' of dataset 'features' declares STRING column 'site' "
            "with 'fields', which only a RECORD or STRUCT column has\n  hint: remove 'fields', or make it a "
            "RECORD",
        ],
    ),
    "tables expiring in less than an hour": (
        [("    logs: {}\n", "    logs: {defaultTableExpiration: 59m}\n")],
        [
            "mlops.yaml:13:36: error E205: invalid data.datasets.logs: defaultTableExpiration 59m is shorter "
            "than 1h, the shortest BigQuery allows",
        ],
    ),
    "partitions expiring at once": (
        [_tables(TX_SCHEMA + "          partitioning: {field: event_time, expiration: 0s}\n")],
        [
            "mlops.yaml:27:57: error E205: invalid data.datasets.features.tables.tx.partitioning: expiration "
            "0s is not one BigQuery allows: give a longer one, or none to keep them",
        ],
    ),
    **{
        f"bucket retention {retention}": (
            [
                (
                    "  datasets:\n",
                    f"  buckets:\n    raw: {{versioning: false, retention: {retention}}}\n  datasets:\n",
                )
            ],
            [
                f"mlops.yaml:13:41: error E205: invalid data.buckets.raw: retention {retention} is not one "
                "Cloud Storage allows: more than 0s, at most 36525d",
            ],
        )
        for retention in ("0s", "36526d")
    },
    "clustered on more than four columns": (
        [_tables(TX_SCHEMA + "          clustering: [site, event_time, event_date, site, site]\n")],
        [
            "mlops.yaml:27:23: error E205: invalid data.datasets.features.tables.tx.clustering: list "
            "should have at most 4 items after validation, not 5\n  hint: keep at most 4 items",
        ],
    ),
}
