"""Exemptions recorded on third-party manifests: the ``slipway.dev/exempt`` annotation.

`slipway check` reads ``slipway.dev/exempt: "<rule>: <reason>"`` (or ``slipway.dev/exempt.<n>``
for more, several rules sharing a reason as ``"rule-a, rule-b: <reason>"``) and shows a
finding of that rule on that object as exempted, with the reason: the model of Checkov's
``checkov.io/skip`` annotations, with Kyverno's PolicyException rule of naming the exact
rule and saying why. An exemption that cannot be reviewed is itself a violation: no reason
(or one under ten characters), or a rule this pack does not have (a typo would leave the
finding in place while looking handled). The pack under the engine never honours these
annotations (a program cannot exempt itself from the platform's rules; that takes the
stack's policy config); it still flags the malformed ones.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import HIGH, MIN_REASON, exemptions, policies_in, resource_rule

FAMILY = "exemptions"


@resource_rule(
    id="exemption-has-reason",
    applies_to=["kubernetes:"],
    family=FAMILY,
    security=True,
    description="Every slipway.dev/exempt annotation names a rule of the pack and says why.",
    severity=HIGH,
    remediation='Write the annotation as "<rule>: <reason>", the reason at least '
    f"{MIN_REASON} characters, the rule as `slipway check` names it; or remove it.",
    standards=["SLIPWAY:exemptions"],
)
def exemption_has_reason(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Unreviewable exemptions are refused; the rule names are read from the pack itself."""
    found = exemptions(args.props)
    if not found:
        return
    from . import all_policies

    known = {p.name for p in all_policies()}
    for e in found:
        at = ("metadata", "annotations", e.key)
        if not e.text:
            report(f'annotation {e.key} is not text; write "<rule>: <reason>"', at=at)
        elif not e.rule:
            report(f"annotation {e.key} names no rule", at=at)
        elif e.rule not in known:
            report(f"annotation {e.key}: {e.rule!r} is not a rule of this pack", at=at)
        elif e.reason is None:
            report(
                f"annotation {e.key}: the exemption from {e.rule} gives no reason "
                f"(at least {MIN_REASON} characters after '{e.rule}:')",
                at=at,
            )


POLICIES = policies_in(globals())
