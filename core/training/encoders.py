"""The encoder registry (no torch import: the wizard lists it without loading the network code)."""

from __future__ import annotations

#: name -> smp encoder, decoder widths, encoder depth (stages used; 5 when absent), and a sentence for the UI.
#: The first entry is the default.
ENCODERS: dict[str, dict] = {
    "resnet18-compact": {
        "smp_encoder": "resnet18",
        "encoder_depth": 4,
        "decoder_channels": (128, 64, 32, 16),
        "description": "ResNet-18's first four stages with a light decoder: fast on a CPU, 14 MB model files, the default",
    },
    "resnet18": {
        "smp_encoder": "resnet18",
        "decoder_channels": (128, 64, 32, 16, 16),
        "description": "ResNet-18, all five stages: more context for large structures, 50 MB model files",
    },
    "resnet34": {
        "smp_encoder": "resnet34",
        "decoder_channels": (256, 128, 64, 32, 16),
        "description": "ResNet-34: deeper, slower, for long trainings or a GPU",
    },
    "mobilenet_v2": {
        "smp_encoder": "mobilenet_v2",
        "decoder_channels": (128, 64, 32, 16, 16),
        "description": "MobileNet-V2: few parameters, small model files",
    },
    "efficientnet-b0": {
        "smp_encoder": "efficientnet-b0",
        "decoder_channels": (256, 128, 64, 32, 16),
        "description": "EfficientNet-B0 (the arivis seed's family): accurate, slower to train on a CPU",
    },
}
DEFAULT_ENCODER = next(iter(ENCODERS))
