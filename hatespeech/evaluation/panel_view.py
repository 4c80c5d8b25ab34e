"""The panel shown: Markdown tables for the card, the demo's Model tab and closing notes, and the identity that
the model wrongs most. Reads a ``panel.json`` (:mod:`hatespeech.evaluation.panel` computes it) and imports no data
loader, so the server can show a panel without the training stack.
"""

from hatespeech.evaluation.panel_result import IdentityScores, PanelResult

MIN_IDENTITY_CASES = 10  # non-hateful cases an identity needs before its false-positive rate is ranked
# HateCheck's functionalities in plain words (Röttger et al. 2021, table 1), for readers who do not know the codes.
HATECHECK_PLAIN = {
    "derog_neg_emote_h": "strong negative emotions about a group",
    "derog_neg_attrib_h": "negative attributes ascribed to a group",
    "derog_dehum_h": "dehumanisation",
    "derog_impl_h": "implicit derogation",
    "threat_dir_h": "direct threats",
    "threat_norm_h": "threats as normative statements",
    "slur_h": "slurs",
    "slur_homonym_nh": "harmless homonyms of slurs",
    "slur_reclaimed_nh": "reclaimed slurs",
    "profanity_h": "hate with profanity",
    "profanity_nh": "profanity without hate",
    "ref_subs_clause_h": "hate through a pronoun in the same sentence",
    "ref_subs_sent_h": "hate through a pronoun in the next sentence",
    "negate_pos_h": "negated positive statements",
    "negate_neg_nh": "negated hate",
    "phrase_question_h": "hate phrased as a question",
    "phrase_opinion_h": "hate phrased as an opinion",
    "ident_neutral_nh": "neutral statements about a group",
    "ident_pos_nh": "positive statements about a group",
    "counter_quote_nh": "counter-speech quoting hate",
    "counter_ref_nh": "counter-speech referring to hate",
    "target_obj_nh": "abuse aimed at objects",
    "target_indiv_nh": "abuse aimed at one person",
    "target_group_nh": "abuse aimed at a non-protected group",
    "spell_char_swap_h": "swapped letters",
    "spell_char_del_h": "dropped letters",
    "spell_space_del_h": "words run together",
    "spell_space_add_h": "spaced-out letters",
    "spell_leet_h": "leetspeak",
}
# Google Jigsaw's Perspective on HateCheck, as its authors measured it (Röttger et al. 2021, table 2).
PERSPECTIVE_HATECHECK = {"hateful": 0.895, "non_hateful": 0.482}


def worst_identity(panel: PanelResult) -> IdentityScores | None:
    """The identity with the highest false-positive rate among those with enough non-hateful cases."""
    ranked = [row for row in panel.identities or [] if row.n_non_hateful >= MIN_IDENTITY_CASES]
    return max(ranked, key=lambda row: row.false_positive_rate, default=None)


def glance_markdown(panel: PanelResult, compared: dict | None = None, shown_name: str = "this model") -> str:
    """What a moderator deciding whether to trust the model reads first: a few plain sentences on what it catches
    and what it wrongly flags, and one small table beside the model it replaced (``panel_compared.json``) and
    Perspective. Empty for a panel without HateCheck (a fold run's)."""
    hc = panel.hatecheck
    if hc is None:
        return ""
    by_accuracy = sorted(hc.functionalities.items(), key=lambda item: item[1])
    missed = [(name, value) for name, value in by_accuracy if name.endswith("_h")][:2]
    flagged = [(name, value) for name, value in by_accuracy if name.endswith("_nh")][:3]
    catches = (f"**What it catches.** {hc.hateful:.0%} of HateCheck's hateful test cases; it misses most often "
               + _ways(missed, "missed") + ".")  # fmt: skip
    wrongs = (f"**What it wrongly flags.** It calls {1 - hc.non_hateful:.0%} of HateCheck's non-hateful cases hate, "
              "most often " + _ways(flagged, "called hate"))  # fmt: skip
    worst = worst_identity(panel)
    if worst is not None:
        wrongs += f"; non-hateful text about {worst.identity} {worst.false_positive_rate:.0%} of the time"
    tweeteval = panel.test.get("tweeteval")
    if tweeteval is not None:
        wrongs += (f". On TweetEval's test tweets it flags {tweeteval.pred_hate_rate:.0%} against a true "
                   f"{tweeteval.true_hate_rate:.0%}")  # fmt: skip
    rows = [(f"**{shown_name}**", panel)]
    if compared is not None:
        rows.append(
            (f"the model it replaced (`{_cell(compared['names'][0])}`)", PanelResult.from_dict(compared["panel"]))
        )
    lines = [catches, "", wrongs + ". Review its flags before acting on them: it is a first-pass filter for human "
             "moderators, not a judge.", "", "| model | TweetEval test macro-F1 | HateCheck hateful | HateCheck "
             "non-hateful | worst identity (non-hateful called hate) |", "|---|---|---|---|---|"]  # fmt: skip
    for name, row in rows:
        f1 = f"{row.test['tweeteval'].macro_f1:.3f}" if "tweeteval" in row.test else "not measured"
        identity = worst_identity(row)
        shown = "-" if identity is None else f"{_cell(identity.identity)}, {identity.false_positive_rate:.2f}"
        lines.append(f"| {name} | {f1} | {row.hatecheck.hateful:.3f} | {row.hatecheck.non_hateful:.3f} | {shown} |")
    lines.append(f"| Google Jigsaw Perspective (HateCheck's authors) | not measured | "
                 f"{PERSPECTIVE_HATECHECK['hateful']:.3f} | {PERSPECTIVE_HATECHECK['non_hateful']:.3f} | "
                 "not measured |")  # fmt: skip
    return "\n".join(lines)


def _ways(functionalities: list[tuple[str, float]], verb: str) -> str:
    """ "negated hate (`negate_neg_nh`, 89% called hate)" for each, joined."""
    shown = [
        f"{HATECHECK_PLAIN.get(name, name)} (`{name}`, {1 - accuracy:.0%} {verb})" for name, accuracy in functionalities
    ]
    return ", ".join(shown[:-1]) + f" and {shown[-1]}" if len(shown) > 1 else "".join(shown)


def panel_markdown(panel: PanelResult) -> str:
    """The panel as markdown tables (card, demo, closing notes)."""
    mean, n = panel.validation_mean_macro_f1, sum(s.both_labels for s in panel.validation.values())
    lines = [f"Validation, mean macro-F1 over the {n} sources with both labels: **{mean:.4f}**"]
    if panel.test:
        lines += ["", "| test set | macro-F1 | ROC-AUC | predicted hate | true hate | n |", "|---|---|---|---|---|---|"]
    for name, s in panel.test.items():
        auc = "-" if s.roc_auc is None else f"{s.roc_auc:.4f}"
        lines.append(f"| {_cell(name)} | {s.macro_f1:.4f} | {auc} | {s.pred_hate_rate:.3f} | "
                     f"{s.true_hate_rate:.3f} | {s.n} |")  # fmt: skip
    if panel.hatecheck is not None:
        hc = panel.hatecheck
        weak = [name for name, accuracy in hc.functionalities.items() if accuracy < 0.5]
        lines += ["", f"HateCheck ({hc.n} cases): overall {hc.overall:.3f}, hateful {hc.hateful:.3f}, "
                  f"non-hateful {hc.non_hateful:.3f}; below 0.5: {', '.join(weak) or 'none'}."]  # fmt: skip
    if panel.validation_perturbed is not None:
        lines += ["", _validation_table(panel)]
    if panel.identities:
        lines += ["", _identity_table(panel.identities)]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """A name inside a Markdown table cell: a ``|`` in it would shift the columns."""
    return str(text).replace("|", "\\|")


def _validation_table(panel: PanelResult) -> str:
    """Each validation split clean and disguised, side by side; held-out sources marked."""
    holdout = (panel.holdout or {}).get("validation", {})
    lines = ["Validation macro-F1, clean and disguised (typos, look-alike characters, split or merged words), and the "
             "accuracy on the non-hateful rows (a source with one label has no macro-F1):", "",
             "| source | clean | disguised | drop | non-hateful acc. |", "|---|---|---|---|---|"]  # fmt: skip
    for name, clean in panel.validation.items():
        disguised = panel.validation_perturbed[name].macro_f1
        shown = f"{_cell(name)} (held out)" if name in holdout else _cell(name)
        specificity = "-" if clean.non_hateful_accuracy is None else f"{clean.non_hateful_accuracy:.4f}"
        f1 = f"{clean.macro_f1:.4f} | {disguised:.4f} | {clean.macro_f1 - disguised:+.4f}" if clean.both_labels else (
            "- | - | -")  # fmt: skip
        lines.append(f"| {shown} | {f1} | {specificity} |")
    mean, perturbed = panel.validation_mean_macro_f1, panel.validation_perturbed_mean_macro_f1
    lines.append(f"| mean | {mean:.4f} | {perturbed:.4f} | {mean - perturbed:+.4f} | |")
    return "\n".join(lines)


def _identity_table(table: list[IdentityScores]) -> str:
    """Per identity: accuracy on hateful and non-hateful cases, and the false-positive rate."""

    def cell(value):
        return "-" if value is None else f"{value:.3f}"

    lines = ["Per target identity (false-positive rate: non-hateful cases called hate):", "",
             "| source | identity | hateful acc. (n) | non-hateful acc. (n) | false-positive rate |",
             "|---|---|---|---|---|"]  # fmt: skip
    for row in table:
        if row.n_hateful + row.n_non_hateful < MIN_IDENTITY_CASES:
            continue  # in panel.json; too few cases to read a rate from
        lines.append(f"| {_cell(row.source)} | {_cell(row.identity)} | "
                     f"{cell(row.hateful_accuracy)} ({row.n_hateful}) | "
                     f"{cell(row.non_hateful_accuracy)} ({row.n_non_hateful}) | "
                     f"{cell(row.false_positive_rate)} |")  # fmt: skip
    return "\n".join(lines)


def functionality_table(panels: dict[str, PanelResult]) -> str:
    """HateCheck per functionality, one column per model, weakest of the first model first; the last column is
    the change from the first model to the last."""
    first, last = next(iter(panels.values())), list(panels.values())[-1]
    names = sorted(first.hatecheck.functionalities, key=first.hatecheck.functionalities.get)
    lines = ["| functionality | " + " | ".join(map(_cell, panels)) + " | change |", "|---" * (len(panels) + 2) + "|"]
    for name in names:
        values = [panel.hatecheck.functionalities.get(name) for panel in panels.values()]
        change = last.hatecheck.functionalities.get(name, float("nan")) - first.hatecheck.functionalities[name]
        lines.append(f"| `{name}` | " + " | ".join("-" if v is None else f"{v:.3f}" for v in values)
                     + f" | {change:+.3f} |")  # fmt: skip
    overall = [f"{p.hatecheck.overall:.3f} / {p.hatecheck.hateful:.3f} / {p.hatecheck.non_hateful:.3f}"
               for p in panels.values()]  # fmt: skip
    return "\n".join([*lines, "| **overall / hateful / non-hateful** | " + " | ".join(overall) + " | |"])


def identity_comparison(panels: dict[str, PanelResult]) -> str:
    """False-positive rate on non-hateful cases per identity (enough cases), one column per model."""
    rates = {
        name: {(row.source, row.identity): row for row in panel.identities or []} for name, panel in panels.items()
    }
    keys = sorted({key for table in rates.values() for key, row in table.items()
                   if row.n_non_hateful >= MIN_IDENTITY_CASES})  # fmt: skip
    lines = ["| source | identity | " + " | ".join(f"{_cell(name)} FPR" for name in panels) + " |",
             "|---" * (len(panels) + 2) + "|"]  # fmt: skip
    for source, identity in keys:
        cells = [rates[name].get((source, identity)) for name in panels]
        lines.append(f"| {_cell(source)} | {_cell(identity)} | " + " | ".join(
            "-" if row is None or row.false_positive_rate is None else f"{row.false_positive_rate:.3f}" for row in cells
        ) + " |")  # fmt: skip
    return "\n".join(lines)


def comparison_markdown(compared: dict, current: PanelResult) -> str:
    """A run's ``panel_compared.json`` (the replaced configuration's panel and both names) beside the run's own
    panel: HateCheck per functionality, then the identity false-positive rates."""
    previous_name, current_name = compared["names"]
    panels = {previous_name: PanelResult.from_dict(compared["panel"]), current_name: current}
    if any(panel.hatecheck is None for panel in panels.values()):
        raise ValueError("a compared panel has no HateCheck")
    return "\n".join([
        f"HateCheck accuracy per functionality, `{_cell(previous_name)}` (the configuration this model replaced) "
        f"beside `{_cell(current_name)}` (this model):", "", functionality_table(panels), "",
        "False-positive rate per target identity (non-hateful cases called hate):", "", identity_comparison(panels),
    ])  # fmt: skip
