"""The panel's result, typed: what :mod:`hatespeech.evaluation.panel` computes, ``panel.json`` holds, and the card,
the demo and the selection harness read by attribute. ``to_dict`` writes the JSON layout that runs have always
written, and ``from_dict`` reads any of them back (older runs lack the disguised and identity parts)."""

from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Scores:
    """One split of one source: macro-F1, ROC-AUC (None for a one-class split), predicted and true hate rate, and
    the accuracy on its non-hateful rows (1 - false-positive rate; None without any, and in older panels)."""

    macro_f1: float
    roc_auc: float | None
    pred_hate_rate: float
    true_hate_rate: float
    n: int
    non_hateful_accuracy: float | None = None

    @property
    def both_labels(self) -> bool:
        """Whether the split holds both labels, so that its macro-F1 means something."""
        return 0 < self.true_hate_rate < 1


@dataclass(frozen=True)
class HateCheckScores:
    """Accuracy overall, on hateful and on non-hateful cases, and per functionality."""

    overall: float
    hateful: float
    non_hateful: float
    functionalities: dict[str, float]
    n: int


@dataclass(frozen=True)
class IdentityScores:
    """One target identity of one source: accuracy on its hateful and non-hateful cases, and the false-positive
    rate on the latter (None where it has no such cases)."""

    source: str
    identity: str
    n_hateful: int
    n_non_hateful: int
    hateful_accuracy: float | None
    non_hateful_accuracy: float | None
    false_positive_rate: float | None


@dataclass(frozen=True)
class PanelResult:
    """Every panel number of one model. ``test``, ``hatecheck`` and ``identities`` are empty or None with
    ``--panel_scope validation``; ``holdout`` is None without ``--holdout_sources``."""

    validation: dict[str, Scores]
    test: dict[str, Scores]
    validation_mean_macro_f1: float
    validation_perturbed: dict[str, Scores] | None = None
    validation_perturbed_mean_macro_f1: float | None = None
    trained_sources_mean_macro_f1: float | None = None
    holdout: dict[str, dict[str, float]] | None = None  # "validation" / "validation_perturbed" -> source -> F1
    hatecheck: HateCheckScores | None = None
    identities: list[IdentityScores] | None = None

    def to_dict(self) -> dict:
        """``panel.json``'s layout; parts that were not computed are left out (a source's non-hateful accuracy
        too, so that older panels write back as they were read)."""
        data = {field.name: value for field, value in zip(fields(self), asdict(self).values(), strict=True)
                if value is not None}  # fmt: skip
        for part in ("validation", "test", "validation_perturbed"):
            for scores in data.get(part, {}).values():
                if scores["non_hateful_accuracy"] is None:
                    del scores["non_hateful_accuracy"]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "PanelResult":
        def splits(part: dict | None) -> dict[str, Scores] | None:
            return None if part is None else {name: Scores(**scores) for name, scores in part.items()}

        hatecheck, identities = data.get("hatecheck"), data.get("identities")
        return cls(
            validation=splits(data["validation"]), test=splits(data.get("test", {})),
            validation_mean_macro_f1=data["validation_mean_macro_f1"],
            validation_perturbed=splits(data.get("validation_perturbed")),
            validation_perturbed_mean_macro_f1=data.get("validation_perturbed_mean_macro_f1"),
            trained_sources_mean_macro_f1=data.get("trained_sources_mean_macro_f1"), holdout=data.get("holdout"),
            hatecheck=HateCheckScores(**hatecheck) if hatecheck else None,
            identities=None if identities is None else [IdentityScores(**row) for row in identities],
        )  # fmt: skip
