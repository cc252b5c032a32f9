"""The structured vulnerability fields of a finding, and how they are read and checked.

A finding of a vulnerability scanner carries more than a title: CVSS v3.x and v4.0 vectors with
their base scores, CWE ids, CVE/GHSA ids, an EPSS probability, whether CISA lists it as known
exploited (KEV), references, and whether a fix exists. Parsers fill these on FindingData with the
helpers below (docs/findings.md lists, field by field, what a parser must fill); storing a finding
runs `finding_vulns_clean` on it whatever parser wrote it, so the table only ever holds:

- CVSS vectors that the `cvss` library (the RedHat-maintained implementation of the FIRST
  specifications) parses, with the base score it computes from them (a score a report states
  next to a vector is not trusted over the vector); v2 vectors are not kept (no version prefix,
  and v2 scores are not comparable);
- CWE ids as `CWE-<n>`, CVE ids upper-case, GHSA ids as `GHSA-xxxx-xxxx-xxxx`;
- EPSS probability and percentile within 0-1;
- references as distinct texts; only http(s) URLs among them become links (never `javascript:`
  or `data:`), the others (an advisory id) are shown as text;
- `has_fix` true whenever a fixed version is known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cvss

from scans.engine.runtime import FindingData

REFERENCES_MAX = 50
IDS_MAX = 50
_CVE = re.compile(r"\bCVE-(\d{4})-(\d{4,})\b", re.IGNORECASE)
_GHSA = re.compile(r"\bGHSA-([0-9a-z]{4})-([0-9a-z]{4})-([0-9a-z]{4})\b", re.IGNORECASE)
_CWE = re.compile(r"^\s*(?:CWE)?\s*[-_:]?\s*(\d{1,5})\b", re.IGNORECASE)
# Ids as cwe_ids and vuln_ids_in write them: a list of these alone comes back from them unchanged.
_CWE_WRITTEN = re.compile(r"CWE-[1-9][0-9]{0,4}")
_VULN_ID_WRITTEN = re.compile(r"CVE-[0-9]{4}-[0-9]{4,}|GHSA-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}")
_WEB_URL = re.compile(r"^https?://[^\s/?#@\\]+(?:[/?#][^\s]*)?$", re.IGNORECASE)
# The qualitative rating of a CVSS base score (the same bands in v3.x and v4.0).
RATINGS = ((9.0, "Critical"), (7.0, "High"), (4.0, "Medium"), (0.1, "Low"), (0.0, "None"))


@dataclass(frozen=True)
class Cvss:
    """A validated CVSS vector: its version ("3.0", "3.1", "4.0"), the vector as the library
    writes it back, and the base score."""

    version: str
    vector: str
    score: float

    @property
    def rating(self) -> str:
        return cvss_rating(self.score)


@lru_cache(maxsize=8192)
def cvss_parse(vector: str) -> Cvss | None:
    """A CVSS v3.x or v4.0 vector, validated and scored; None for anything else (a v2 vector, a
    typo, a metric out of place). Reports repeat the same few vectors thousands of times."""
    text = str(vector or "").strip()
    upper = text.upper()
    try:
        if upper.startswith("CVSS:4.0/"):
            v4 = cvss.CVSS4(text)
            return Cvss("4.0", v4.clean_vector(), float(v4.base_score))
        if upper.startswith(("CVSS:3.0/", "CVSS:3.1/")):
            v3 = cvss.CVSS3(text)
            return Cvss(upper[5:8], v3.clean_vector(), float(v3.scores()[0]))
    except (cvss.CVSSError, ValueError, KeyError, TypeError, ArithmeticError):
        return None
    return None


def cvss_pick(vectors: Iterable[Any]) -> tuple[Cvss | None, Cvss | None]:
    """The first valid v3.x and the first valid v4.0 among `vectors` (give them in the order
    the report ranks its sources: the vendor it took the severity from first)."""
    v3: Cvss | None = None
    v4: Cvss | None = None
    for vector in vectors:
        parsed = cvss_parse(str(vector or "")) if vector else None
        if parsed is None:
            continue
        if parsed.version == "4.0":
            v4 = v4 or parsed
        else:
            v3 = v3 or parsed
        if v3 and v4:
            break
    return v3, v4


def cvss_fill(finding: FindingData, vectors: Iterable[Any]) -> FindingData:
    """Set the finding's CVSS fields from the first valid v3.x and v4.0 vectors."""
    v3, v4 = cvss_pick(vectors)
    if v3 is not None:
        finding.cvss_v3_vector, finding.cvss_v3_score = v3.vector, v3.score
    if v4 is not None:
        finding.cvss_v4_vector, finding.cvss_v4_score = v4.vector, v4.score
    return finding


def cvss_rating(score: float | None) -> str:
    """ "Critical" (9.0-10), "High", "Medium", "Low" (0.1-3.9), "None" (0); "" without a score."""
    if score is None:
        return ""
    for floor, rating in RATINGS:
        if score >= floor:
            return rating
    return ""


def score_or_none(value: Any) -> float | None:
    """A 0-10 score rounded to one decimal, or None when it is not one."""
    try:
        score = round(float(str(value).strip()), 1)
    except (TypeError, ValueError):
        return None
    return score if 0.0 <= score <= 10.0 else None


def cwe_id(value: Any) -> str:
    """ "CWE-79" from "CWE-79", "cwe-79", "79", 79 or "CWE-79: Improper Neutralization…"; ""
    for anything else (NVD's "NVD-CWE-Other", "NVD-CWE-noinfo")."""
    match = _CWE.match(str(value or ""))
    if not match or str(value).upper().startswith("NVD-"):
        return ""
    number = int(match.group(1))
    return f"CWE-{number}" if number > 0 else ""


def cwe_ids(values: Iterable[Any]) -> list[str]:
    """Distinct CWE ids in the order given."""
    out: list[str] = []
    for value in values:
        cwe = cwe_id(value)
        if cwe and cwe not in out:
            out.append(cwe)
    return out[:IDS_MAX]


def cwe_url(cwe: str) -> str:
    """MITRE's page of a CWE id ("" when it is not one)."""
    normalized = cwe_id(cwe)
    return f"https://cwe.mitre.org/data/definitions/{normalized[4:]}.html" if normalized else ""


def vuln_url(vuln_id: str) -> str:
    """The public advisory page of a CVE (NVD) or GHSA (GitHub) id; "" for anything else."""
    if re.fullmatch(r"CVE-\d{4}-\d{4,}", vuln_id):
        return f"https://nvd.nist.gov/vuln/detail/{vuln_id}"
    if re.fullmatch(r"GHSA(-[0-9a-z]{4}){3}", vuln_id):
        return f"https://github.com/advisories/{vuln_id}"
    return ""


def vuln_ids_in(values: Iterable[Any]) -> list[str]:
    """The CVE and GHSA ids found in `values` (ids, or texts and URLs that name them), distinct,
    CVE ids upper-case and GHSA ids as GitHub writes them (`GHSA-` and lower-case groups)."""
    out: list[str] = []
    for value in values:
        text = str(value or "")
        found = [f"CVE-{m.group(1)}-{m.group(2)}" for m in _CVE.finditer(text)]
        found += ["GHSA-" + "-".join(g.lower() for g in m.groups()) for m in _GHSA.finditer(text)]
        out += [v for v in found if v not in out]
    return out[:IDS_MAX]


def is_web_url(value: Any) -> bool:
    """An http(s) URL with a host and no spaces: safe to show as a link."""
    return isinstance(value, str) and len(value) <= 2000 and bool(_WEB_URL.match(value))


def web_urls(values: Iterable[Any]) -> list[str]:
    """The http(s) URLs among `values`, distinct, at most REFERENCES_MAX."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        text = str(value or "").strip()
        if text not in seen and is_web_url(text):
            seen.add(text)
            out.append(text)
            if len(out) >= REFERENCES_MAX:
                break
    return out


def references_clean(values: Iterable[Any]) -> list[str]:
    """Distinct, non-empty reference texts (at most REFERENCES_MAX, 2,000 characters each)."""
    out: list[str] = []
    seen: set[str] = set()
    for value in values:
        text = str(value or "").strip()[:2000]
        if text and text not in seen:
            seen.add(text)
            out.append(text)
            if len(out) >= REFERENCES_MAX:
                break
    return out


def probability(value: Any) -> float | None:
    """A probability within 0-1 from 0.97, "0.97" or "97%"; None otherwise."""
    text = str(value if value is not None else "").strip()
    percent = text.endswith("%")
    try:
        number = float(text.rstrip("%"))
    except ValueError:
        return None
    if percent:
        number /= 100
    return round(number, 5) if 0.0 <= number <= 1.0 else None


def _as_written(ids: list[Any], written: re.Pattern[str]) -> bool:
    return (
        len(ids) <= IDS_MAX
        and all(type(v) is str and written.fullmatch(v) for v in ids)
        and len(set(ids)) == len(ids)
    )


def _cvss_checked(vector: str, score: float | None, *, v4: bool) -> tuple[str, float | None]:
    """A vector of the expected version (4.0, else 3.x) with the library's score; one that does
    not parse, or is of the other version, is dropped with its score. A score without a vector
    is kept when it is within 0-10."""
    if vector:
        parsed = cvss_parse(vector)
        if parsed is None or (parsed.version == "4.0") != v4:
            return "", None
        return parsed.vector, parsed.score
    return vector, score_or_none(score) if score is not None else None


def finding_vulns_clean(finding: FindingData) -> FindingData:
    """Check the structured fields of a finding before it is stored (in place): vectors parsed
    and scored by the library (an invalid one is dropped with its score), scores within 0-10,
    ids normalized, probabilities within 0-1, references distinct, `has_fix` set when a fixed
    version is known."""
    finding.cvss_v3_vector, finding.cvss_v3_score = _cvss_checked(
        finding.cvss_v3_vector, finding.cvss_v3_score, v4=False
    )
    finding.cvss_v4_vector, finding.cvss_v4_score = _cvss_checked(
        finding.cvss_v4_vector, finding.cvss_v4_score, v4=True
    )
    # Parsers fill the ids through cwe_ids and vuln_ids_in already: such lists are recognised
    # (one match per id) instead of being normalized a second time.
    if finding.cwe_ids and not _as_written(finding.cwe_ids, _CWE_WRITTEN):
        finding.cwe_ids = cwe_ids(finding.cwe_ids)
    if finding.vuln_ids and not _as_written(finding.vuln_ids, _VULN_ID_WRITTEN):
        finding.vuln_ids = vuln_ids_in(finding.vuln_ids)
    if finding.epss_score is not None:
        finding.epss_score = probability(finding.epss_score)
    if finding.epss_percentile is not None:
        finding.epss_percentile = probability(finding.epss_percentile)
    refs = finding.references
    if refs and (
        len(refs) > REFERENCES_MAX
        or len(set(refs)) != len(refs)
        or not all(type(r) is str and 0 < len(r) <= 2000 for r in refs)
    ):
        finding.references = references_clean(refs)
    finding.is_kev = bool(finding.is_kev)
    finding.has_fix = bool(finding.has_fix or finding.fixed_version)
    return finding
