"""What the processes that report metrics and the head that keeps them agree on.

MetricReport.kind values, the rule for a valid metric name (Prometheus'), and
the limits the head's validator holds reports to (raylite/head/validate.py).
"""

from __future__ import annotations

import re

COUNTER, GAUGE, HISTOGRAM = 1, 2, 3
KIND_NAMES = {COUNTER: "counter", GAUGE: "gauge", HISTOGRAM: "histogram"}

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")  # a tag key, as a Prometheus label name

MAX_NAME = 200  # characters of a metric name or a tag key
MAX_TAG_VALUE = 1_000
MAX_DESCRIPTION = 10_000
MAX_TAGS = 32  # tags of one series
MAX_BOUNDARIES = 1_000
