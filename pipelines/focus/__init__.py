"""FOCUS 1.2 conformance: evaluate the FinOps Foundation's requirements model on a Spark DataFrame.

`load_model` reads model-1.2.0.1.json (`make install` fetches it), `evaluate` gives every rule one outcome,
`Report.summary` prints them; `python -m pipelines.focus.conformance` is the command line. How the check functions
read (after focus_validator 2.2.1; row-level checks ignore NULLs unless the check is about NULL):

- ColumnPresent: the column is in the schema. TypeString: a string column.
- TypeDecimal: a decimal (or double/float) column; a text column passes where its values are numeric text.
- TypeDateTime / FormatDateTime: a timestamp or date column passes; text must read 'YYYY-MM-DDTHH:MM:SSZ'
  (FormatDateTime, like the reference, also takes it without the Z, if it parses).
- FormatNumeric: a numeric column passes; text must match [+-]digits[.digits][e[+-]digits] once trimmed.
- CheckDecimalValue: a decimal column passes; text must parse as a decimal (the reference skips this check).
- FormatString: valid Unicode: no U+FFFD from undecodable bytes (the reference asks for ASCII).
- FormatUnit: the reference's FOCUS unit pattern.
- FormatKeyValue: valid JSON text (map/struct columns pass). FormatCurrency: three capital letters.
  CheckNationalCurrency: an ISO 4217 code from the validator's currency_codes.csv.
- CheckValue / CheckNotValue: equal / not equal to Value (numbers compared as exact decimals), or NULL / not NULL
  when Value is null. CheckSameValue / CheckNotSameValue: two columns (equal) / (differ) where both are set.
- CheckGreaterOrEqualThanValue: >= Value, as decimals. CheckDistinctCount: per ColumnA value, that many distinct
  ColumnB values. ColumnByColumnEqualsColumnValue: |A * B - Result| <= 1e-9 * max(|Result|, 1), in decimals.
- AND / OR: inside a rule, row by row; over CheckModelRule (composites), over the referenced rules' outcomes.
"""

from __future__ import annotations

from pipelines.focus.evaluate import evaluate
from pipelines.focus.model import Model, ModelError, Rule, load_model
from pipelines.focus.report import Outcome, Report

__all__ = ["Model", "ModelError", "Outcome", "Report", "Rule", "evaluate", "load_model"]
