"""Column names shared by the reader, the pricing steps and the report writers."""

from __future__ import annotations

MODIFIERS = ("mod_1", "mod_2", "mod_3", "mod_4")

# Working columns of remittance matching (scrub.remits), beside its report columns.
REMIT_WORKING = (
    "remit_flaggable",
    "remit_line_level",
    "remit_reversed_only",
    "remit_reversed_cents",
    "remit_denial",
    "remit_denied",
    "remit_latest_key",
    "remit_paid_unreadable",
)

# Working columns the normalizer adds; never written to a report.
INTERNAL = (
    "line_index",
    "claim_key",
    "patient_key",
    "provider",
    "dos",
    "pos",
    "hcpcs",
    *MODIFIERS,
    "units",
    "units_defaulted",
    "charge_cents",
    "paid_cents",
    "deductible_cents",
    "zip5",
    "zip_padded",
    "input_problem",
    "input_detail",
    "modifier_problem",
    "carrier_in",
    "locality_in",
    "is_participating",
    "flags_errors",
    "flags_warnings",
    "paid_problem",
    "same_day_group",
    "remit_matched",
    *REMIT_WORKING,
)

# Policy indicators of the RVU file copied to every line report row.
INDICATORS = ("pctc", "glob_days", "mult_proc", "bilat", "asst", "co_surg", "team", "endo_base")

# Columns the line report adds to the input columns (money columns under their report names).
REPORT = (
    "input_row",
    "line_status",
    "expected_allowed",
    "flags",
    "flag_count",
    "dollars_at_risk",
    "worst_severity",
    "release",
    "pricing_locality",
    "locality_source",
    "setting",
    "pricing_modifier",
    "status_code",
    *INDICATORS,
    "gpci_work",
    "gpci_pe",
    "gpci_mp",
    "work_rvu",
    "pe_rvu",
    "mp_rvu",
    "conversion_factor",
    "fee_schedule_amount",
    "opps_cap_applied",
    "bilateral_pct",
    "mppr_reduction",
    "surgical_role_pct",
    "adjustments",
    "fee_adjusted_amount",
    "limiting_charge",
    "expected_payment",
    "paid_variance",
    "mue_value",
    "mue_mai",
    "mue_status",
    "provider_npi",
    "date_of_service",
    "procedure_code",
    "modifiers",
    "billed",
    "paid",
    "run_id",
    "run_started_at",
    # from a matched 835 remittance (scrub.remits)
    "remit_paid",
    "remit_paid_code",
    "remit_claim_status",
    "remit_adjustments",
    "remit_patient_responsibility",
    "remit_sequestration",
    "remit_remark_codes",
    "remit_match",
    "remit_source",
)

# An input column with one of these names is kept as input_<name>.
RESERVED = frozenset(INTERNAL + REPORT)

# What the history store keeps of each scrubbed line (hashed patient key, no identifiers).
HISTORY = (
    "claim_id",
    "claim_line_number",
    "patient_key",
    "provider",
    "dos",
    "hcpcs",
    *MODIFIERS,
    "units",
    "glob_days",
    "line_status",
    "expected_allowed_cents",
    "charge_cents",
)
# Kept in the history store when the batch has them (older history files may not); the
# payer names the payer of remittances matched to these lines later (denial patterns).
HISTORY_OPTIONAL = ("line_control_number", "payer")
