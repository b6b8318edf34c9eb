"""The model registry: every trainable network by name, with its task and training recipe.

A spec says what data a model reads (task), its shape (:class:`~.nets.BnnConfig`) and its
training hyper-parameters (the BNN paper's: Adam, lr 0.02 / batch 512 for 5 classes, lr 0.002 /
batch 64 for 17 classes). New models register here; the CLI lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .configs import ZOO_ARCHS, ZOO_PRECISIONS, BnnConfig, LeadNetConfig, ResNetConfig, ZooConfig

PTBXL_TASKS = ("ptbxl5", "ptbxl-binary", "ptbxl-multiclass")
"""PTB-XL's three tasks: the five superclasses multi-label, NORM against the rest, and the
records with one superclass as five classes (:func:`~.tasks.load_task`)."""
TASKS = ("windows5", "plawiak17", "beats", "beats-rr", *PTBXL_TASKS)
"""What data a model reads (:func:`~.tasks.load_task`)."""
PROTOCOLS = ("paper", "patient", "interpatient", "folds")
"""How a task is split into train / validation / test (:func:`~.tasks.protocol_split`)."""
PEAKS = ("auto", "annotations", "detect")
"""Where a beat task's R peaks come from (:func:`~.beat_inputs.load_beat_records`):
``annotations`` (the ``.atr`` file), ``detect`` (XQRS, :func:`~.detect.detect_r_peaks`), or
``auto``: the annotations where a record has them, the detector where it has none."""


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Attributes
    ----------
    name:
        Registry key, e.g. ``"ecgbnn5"``.
    task:
        ``"windows5"`` (MIT-BIH 10-s windows, AAMI 5 classes), ``"plawiak17"`` (17-class
        fragments), ``"beats"`` (MIT-BIH beats, AAMI 5 classes), ``"beats-rr"`` (beats with
        RR features) or one of :data:`PTBXL_TASKS` (PTB-XL 12-lead records: 5 superclasses
        multi-label, NORM against the rest, or single-superclass records as 5 classes).
    config:
        Network shape.
    protocols:
        Protocols it can be trained and evaluated on (``paper``, ``patient``, ``interpatient``).
    lr, batch_size, epochs:
        Adam learning rate, mini-batch size, default number of epochs.
    description:
        One line for ``--help`` and the models README.
    augment:
        Vary every training batch (:func:`~.train.augment`: time shift, gain, noise).
    class_power, class_cap:
        Class weights of the loss (``patient`` / ``interpatient``): frequency ** -class_power,
        at most ``class_cap`` times the most frequent class's (0: no cap).
    select:
        Validation metric the epoch is chosen on: ``""`` for the protocol's default
        (``accuracy`` on ``paper``, ``macro_f1`` on the patient protocols, ``macro_auc`` for a
        multi-label task) or a key of :func:`~.metrics.classification_report` such as
        ``"macro_auc"`` (threshold-free: steadier than macro-F1 when the validation patients
        have only a few ectopic beats).
    """

    name: str
    task: str
    config: BnnConfig | ResNetConfig | LeadNetConfig | ZooConfig
    protocols: tuple[str, ...]
    lr: float
    batch_size: int
    epochs: int
    description: str
    class_power: float = 0.5
    class_cap: float = 0.0
    augment: bool = False
    select: str = ""


BEAT_LENGTH = 720
"""Beat-model input: 2 s around the R peak (360 samples before, 360 from it) at 360 Hz, long
enough for 6 blocks (lengths 178 … 4) and to show the neighbouring RR intervals."""

_SPECS = [
    ModelSpec("ecgbnn5", "windows5", BnnConfig(5), ("paper", "patient"), 0.02, 512, 120,
              "ECG-BNN, 5 AAMI classes, 10-s MIT-BIH windows (Zhang et al. 2024)"),
    ModelSpec("ecgbnn5-fp", "windows5", BnnConfig(5, binary=False), ("paper", "patient"), 0.02,
              512, 120, "full-precision twin of ecgbnn5"),
    ModelSpec("ecgbnn5-w2a2", "windows5", BnnConfig(5, bits=2), ("paper", "patient"), 0.01, 512,
              60, "ECG-BNN topology, 2-bit weights and activations (W2A2), 5 AAMI classes"),
    ModelSpec("ecgbnn5-w4a4", "windows5", BnnConfig(5, bits=4), ("paper", "patient"), 0.01, 512,
              60, "ECG-BNN topology, 4-bit weights and activations (W4A4), 5 AAMI classes"),
    ModelSpec("ecgbnn17", "plawiak17", BnnConfig(17), ("paper", "patient"), 0.002, 64, 150,
              "ECG-BNN, 17 rhythm classes, Plawiak's fragments (Zhang et al. 2024)"),
    ModelSpec("ecgbnn17-fp", "plawiak17", BnnConfig(17, binary=False), ("paper", "patient"),
              0.002, 64, 150, "full-precision twin of ecgbnn17"),
    ModelSpec("ecgbnn-beat", "beats", BnnConfig(5, input_length=BEAT_LENGTH), ("interpatient",),
              0.01, 512, 30, "ECG-BNN blocks on 2-s beats, inter-patient DS1 -> DS2"),
    ModelSpec("ecgbnn-beat-rr", "beats-rr",
              LeadNetConfig(5, 2, 252, 16, 5, 7, 2, multilabel=False, metadata=5, fuse_bits=4,
                            morph_dropout=0.3),
              ("interpatient",), 0.002, 256, 30,
              "W2A2 beat net: the beat (700 ms) and its record's median beat as two leads, 5 "
              "conv blocks, a conv across the two, GAP, fused with 5 RR features (de Chazal "
              "2004), inter-patient DS1 -> DS2", class_power=1.0, class_cap=20, augment=True,
              select="macro_auc"),
    ModelSpec("resnet-beat", "beats", ResNetConfig(5, BEAT_LENGTH, 16, 3, 5, 4),
              ("interpatient",), 0.005, 256, 4,
              "1-D ResNet, 3 residual blocks, GAP, int4, 2-s beats, inter-patient DS1 -> DS2"),
    ModelSpec("leadnet-ptbxl", "ptbxl5", LeadNetConfig(5, 12, 1000, 8, 3, 7, 4), ("folds",),
              0.005, 64, 6,
              "12-lead lead x time int4 net (temporal convs per lead, a conv across leads, "
              "GAP), sigmoid per PTB-XL superclass"),
    ModelSpec("leadnet-ptbxl-meta", "ptbxl5", LeadNetConfig(5, 12, 1000, 8, 3, 7, 4, metadata=3),
              ("folds",), 0.005, 64, 6,
              "leadnet-ptbxl with age, age-missing and sex fused after the pooling"),
]  # fmt: skip
_ZOO = {
    "attianet": "AttiaNet (Attia 2019): temporal conv blocks per lead, a conv across the 12 "
    "leads, fully connected layers",
    "deepresidualcnn": "DeepResidualCNN (ISIBrno-AIMT, CinC 2021): stem, 5 residual blocks "
    "with avg-pool shortcuts, 8-head attention",
    "parallelcnn": "ParallelCNN: parallel temporal-first and spatial-first branches, concatenated",
    "parallelcnnew": "ParallelCNNew: ParallelCNN with a symmetric weight initialization",
    "simplenet": "SimpleNet: a joint (12 x 7) lead-time kernel, then temporal blocks",
}
_SPECS += [ModelSpec(arch, "ptbxl5", ZooConfig(arch), ("folds",), 0.003, 64, 30,
                     f"{text}; PTB-XL 12-lead 100 Hz, int8 (zoo: -binary/-multiclass, "
                     "-fp/-int4/-w2a2, -agesex)", select="macro_auc")
           for arch, text in _ZOO.items()]  # fmt: skip
REGISTRY: dict[str, ModelSpec] = {s.name: s for s in _SPECS}

ZOO_TASKS = {"binary": ("ptbxl-binary", 2, False), "multiclass": ("ptbxl-multiclass", 5, False)}
"""Task suffixes of a zoo model's name: task, classes, multi-label (default ``ptbxl5``, the
five superclasses, multi-label)."""


def zoo_spec(name: str) -> ModelSpec | None:
    """The spec of a zoo variant ``<arch>[-binary|-multiclass][-fp|-int8|-int4|-w2a2]
    [-agesex]`` (e.g. ``attianet-binary-int4-agesex``: NORM against the rest, int4, age and
    sex fused), derived from the registered ``<arch>`` (``ptbxl5``, int8, no metadata); None
    when ``name`` is not one. Multi-class variants select the epoch on validation macro AUC
    too."""
    from dataclasses import replace

    parts = name.split("-")
    if parts[0] not in ZOO_ARCHS:
        return None
    base = REGISTRY[parts[0]]
    rest = parts[1:]
    task, n_classes, multilabel = "ptbxl5", 5, True
    if rest and rest[0] in ZOO_TASKS:
        task, n_classes, multilabel = ZOO_TASKS[rest.pop(0)]
    bits = 8
    if rest and rest[0] in ZOO_PRECISIONS:
        bits = ZOO_PRECISIONS[rest.pop(0)]
    metadata = 3 if rest == ["agesex"] else 0
    if rest not in ([], ["agesex"]):
        return None
    config = replace(base.config, n_classes=n_classes, multilabel=multilabel, bits=bits,
                     metadata=metadata)  # fmt: skip
    return replace(base, name=name, task=task, config=config)


class UnknownModelError(KeyError):
    """No model of that name is registered."""

    def __str__(self) -> str:
        return f"unknown model {self.args[0]!r}; known: {', '.join(REGISTRY)}"


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name`` (registered, or a zoo variant, :func:`zoo_spec`); raises
    :class:`UnknownModelError` naming the known models."""
    spec = REGISTRY.get(name) or zoo_spec(name)
    if spec is None:
        raise UnknownModelError(name)
    return spec


def build_network(config: BnnConfig | ResNetConfig | LeadNetConfig | ZooConfig):
    """A fresh network of ``config``: :class:`~.nets.EcgBnn`, :class:`~.resnet.QuantResNet1d`,
    :class:`~.leadnet.QuantLeadNet` or a zoo network (:func:`~.zoo.build_zoo`)."""
    from .leadnet import QuantLeadNet
    from .nets import EcgBnn
    from .resnet import QuantResNet1d

    if isinstance(config, ZooConfig):
        from .zoo import build_zoo

        return build_zoo(config)
    if isinstance(config, LeadNetConfig):
        return QuantLeadNet(config)
    return QuantResNet1d(config) if isinstance(config, ResNetConfig) else EcgBnn(config)
