#!/usr/bin/python3
# Reads a Prometheus text exposition (0.0.4) on stdin and parses it with the
# official client library's parser (Debian's python3-prometheus-client,
# prometheus_client.parser.text_string_to_metric_families), then checks the
# conventions monitoring relies on: every family has HELP and TYPE, names are
# snake_case, counters end in _total, histograms are in seconds or bytes
# with ascending bounds, non-decreasing buckets and +Inf equal to _count, no
# series twice. Prints {"series": {"name{k=\"v\",...}": value}} (labels
# sorted) as JSON for the test to compare; exits 1 with the reasons when
# the text does not parse or breaks a rule.
# /usr/bin/python3 on purpose: Debian's interpreter sees Debian's packages.
import json
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def key(name, labels):
    inner = ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels))
    return "%s{%s}" % (name, inner) if inner else name


def main():
    text = sys.stdin.read()
    problems = []
    series = {}
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and friends
        print("not the Prometheus text format: %s" % e, file=sys.stderr)
        return 1
    seen_families = set()
    for fam in families:
        if fam.name in seen_families:
            problems.append("family %s appears twice" % fam.name)
        seen_families.add(fam.name)
        if not NAME.match(fam.name):
            problems.append("%s: not a snake_case name" % fam.name)
        # The parser accepts samples without HELP/TYPE (type "unknown").
        if fam.type == "unknown":
            problems.append("%s: no # TYPE line" % fam.name)
        if not fam.documentation:
            problems.append("%s: no # HELP text" % fam.name)
        if fam.type == "histogram" and not re.search(r"_(seconds|bytes)$", fam.name):
            problems.append("%s: a histogram's name ends in its base unit" % fam.name)
        if fam.type != "counter" and fam.name.endswith("_total"):
            problems.append("%s: _total on a %s" % (fam.name, fam.type))
        buckets = {}
        for s in fam.samples:
            if fam.type == "counter" and not s.name.endswith("_total"):
                problems.append("%s: counter sample without _total" % s.name)
            if s.value < 0 and fam.type in ("counter", "histogram"):
                problems.append("%s: negative" % key(s.name, s.labels))
            k = key(s.name, s.labels)
            if k in series:
                problems.append("%s: series twice" % k)
            series[k] = s.value
            if fam.type == "histogram" and s.name.endswith("_bucket"):
                rest = {l: v for l, v in s.labels.items() if l != "le"}
                buckets.setdefault(key(fam.name, rest), []).append(
                    (float(s.labels["le"]), s.value))
        for base, bs in buckets.items():
            bounds = [b for b, _ in bs]
            if bounds != sorted(bounds) or not math.isinf(bounds[-1]):
                problems.append("%s: bounds not ascending to +Inf" % base)
            counts = [c for _, c in bs]
            if any(b < a for a, b in zip(counts, counts[1:])):
                problems.append("%s: buckets decrease" % base)
            labels = base[len(fam.name):]
            count = series.get(fam.name + "_count" + labels)
            if count is None or count != counts[-1]:
                problems.append("%s: +Inf bucket %s != _count %s" % (base, counts[-1], count))
            if series.get(fam.name + "_sum" + labels) is None:
                problems.append("%s: no _sum" % base)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    json.dump({"series": series}, sys.stdout, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
