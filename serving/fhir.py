"""A stored decision as an HL7 FHIR ``RiskAssessment``, valid in R4 (4.0.1) and R4B (4.3.0).

RiskAssessment has the same elements, cardinalities and types in R4 and R4B (R4 <-> R4B mapped
"Equivalent" element by element), and every data type used here is R4's, so one resource serves
both. ``fhir.resources`` has no R4 module: the resource is validated with its R4B model, and
the tests check it against R4's element list too. It does not check FHIRPath invariants: the
probability's scale (a 0-1 decimal; R4's ``ras-2`` only bounds it by 100) is checked here.

- ``identifier``: the decision id as ``urn:uuid:`` (system ``urn:ietf:rfc:3986``);
- ``subject``: the Patient, as a logical reference (type and the keyed hash of the client
  reference): the service never stores the patient id;
- ``basis``: the QuestionnaireResponse and the Appointment(s) of the hook call; a decision made
  through ``POST /v1/assessments`` has no FHIR resources behind it, so its basis is the booking,
  named by its id;
- ``performer``: the model version, as a Device named by model name and version;
- ``mitigation``: the suggested support level and service path, in the decision's language;
- ``prediction``: the calibrated probability, a qualitative risk (code system risk-probability,
  chosen by its definitions: "high" is "more likely to occur than not", "moderate" "a reasonable
  likelihood", "low" "possible but unlikely") and the reasons.
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.riskassessment import RiskAssessment

from serving.cds_hooks import texts
from serving.cds_hooks.recording import hook_call

#: FHIR's JSON MIME type with the version parameter (R4: "4.0") and UTF-8 stated, as FHIR's
#: http page asks of every response
FHIR_JSON = "application/fhir+json; fhirVersion=4.0; charset=utf-8"
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
QUALITATIVE = {
    "low": "Low likelihood",
    "moderate": "Moderate likelihood",
    "high": "High likelihood",
}
CLIENT_REF_HASH = "urn:kykytutka:client-ref-hmac"
MODEL_SYSTEM = "urn:kykytutka:model"
BOOKING_SYSTEM = "urn:kykytutka:booking-id"


def qualitative_risk(probability: float, alert_level: str) -> str:
    """The risk-probability code for a decision: by the code system's definitions, "high" only
    when the need is more likely than not; an alert is a reasonable likelihood."""
    if probability > 0.5:
        return "high"
    return "moderate" if alert_level != "none" else "low"


def risk_assessment(row: dict[str, Any]) -> dict[str, Any]:
    """The stored decision (an audit row) as a RiskAssessment, validated by fhir.resources."""
    output = row["output"]
    language = texts.language_of(output)
    probability = float(row["alert_probability"])
    if not 0.0 <= probability <= 1.0:  # fhir.resources does not check the FHIRPath invariants
        raise ValueError(f"probability {probability} is not on the 0-1 scale")
    level = output["alert_level"]
    risk = qualitative_risk(probability, level)
    decided = row["decided_at"]
    model = f"{row['model_name']} version {row['model_version']}"
    call = hook_call(output)
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": row["decision_id"],
        "language": language,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{row['decision_id']}"}],
        "status": "final",
        "method": {
            "coding": [
                {
                    "system": MODEL_SYSTEM,
                    "code": f"{row['model_name']}-v{row['model_version']}",
                    "display": f"{model}, contract {row['contract_version']}",
                }
            ]
        },
        "code": {"text": texts.ASSESSMENT[language]},
        "subject": {
            "type": "Patient",
            "identifier": {"system": CLIENT_REF_HASH, "value": row["client_ref_hash"]},
        },
        "occurrenceDateTime": decided if isinstance(decided, str) else decided.isoformat(),
        "performer": {
            "type": "Device",
            "identifier": {
                "system": MODEL_SYSTEM,
                "value": f"{row['model_name']}/{row['model_version']}",
            },
            "display": model,
        },
        "basis": _basis(row, call),
        "prediction": [
            {
                "outcome": {"text": texts.OUTCOME[language]},
                "probabilityDecimal": round(probability, 6),
                "qualitativeRisk": {
                    "coding": [
                        {"system": RISK_PROBABILITY, "code": risk, "display": QUALITATIVE[risk]}
                    ],
                    "text": texts.ALERT_LEVELS[language][level],
                },
                "rationale": " ".join(_sentence(r["text"]) for r in output["reasons"]) or None,
            }
        ],
        "mitigation": _mitigation(output, language, _consented(row)),
        "note": [
            {
                "text": f"{output['segment']['id']} {output['segment']['name']}. "
                f"{texts.ADVISORY[language]}"
            }
        ],
    }
    if call and call.get("encounter"):
        resource["encounter"] = {"reference": call["encounter"], "type": "Encounter"}
    validated: dict[str, Any] = RiskAssessment.model_validate(resource).model_dump(
        mode="json", exclude_none=True
    )
    return validated


def _basis(row: dict[str, Any], call: dict[str, Any] | None) -> list[dict[str, Any]]:
    if call is None:
        return [
            {
                "type": "Appointment",
                "identifier": {"system": BOOKING_SYSTEM, "value": row["booking_id"]},
            }
        ]
    response = call.get("questionnaireResponse")
    basis = [
        {"reference": response, "type": "QuestionnaireResponse"}
        if response
        else {"type": "QuestionnaireResponse", "display": "booking context, prefetched without id"}
    ]
    basis += [{"reference": ref, "type": "Appointment"} for ref in call.get("appointments", [])]
    return basis


def _consented(row: dict[str, Any]) -> bool:
    inputs = row.get("inputs")
    return bool(inputs.get("consent_multi_agency")) if isinstance(inputs, dict) else False


def _mitigation(output: dict[str, Any], language: str, consented: bool) -> str:
    level = texts.support_level_text(texts.recommended_level(output), language)
    parts = [f"{texts.LEVEL[language]}: {level}."]
    steps = output["segment"].get("service_steps") or output["segment"].get("service_path")
    if steps:
        parts.append(
            f"{texts.PATH[language]}: {texts.service_path_text(steps, consented, language)}."
        )
    if output["alert_level"] != "none":
        parts.append(f"{texts.INITIAL_SERVICE[language]}.")
    parts.append(texts.ADVISORY[language])
    return " ".join(parts)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."
