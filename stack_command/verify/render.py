"""The checklist as a person reads it: a table per application and a summary line."""

from __future__ import annotations

from stack_command.verify.model import SYMBOLS, Report


def as_text(report: Report) -> str:
    lines = [f"Onboarding checklist of stack {report.stack} ({report.environment})"]
    if report.sandbox:
        lines.append("SANDBOX: read from the local stand-ins, not Azure or Ocelot")
    for app in report.applications:
        lines.append("")
        lines.append(f"{app.display_name}  client ID {app.client_id or '-'}")
        width = max(len(f.item) for f in app.findings)
        for finding in app.findings:
            symbol = SYMBOLS[finding.status]
            lines.append(f"  {symbol:<7}{finding.item:<{width}}  {finding.detail}")
            if finding.remedy and finding.status != "pass":
                lines.append(f"  {'':<7}{'':<{width}}  -> {finding.remedy}")
    counts = report.counts()
    verdict = "every automated item passes" if report.ok else "some items fail"
    lines.append("")
    lines.append(
        f"{len(report.applications)} application(s): {counts['pass']} passed, "
        f"{counts['fail']} failed, {counts['warn']} warnings, {counts['manual']} manual; {verdict}"
    )
    return "\n".join(lines)
