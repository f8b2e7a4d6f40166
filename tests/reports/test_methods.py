"""The auto-written methods paragraph: numbers filled in, missing values left out (never 'None')."""

from __future__ import annotations

import re

from core.reports import ReportData
from core.reports.methods import methods_paragraph
from tests.reports.helpers import synthetic_report


def test_paragraph_has_the_numbers():
    data = synthetic_report(labels=("nucleus", "membrane"))
    text = methods_paragraph(data)
    for expected in (
        "instance segmentation",
        "nucleus and membrane",
        "5 annotated images",
        "3 used for training and 2",
        "random, 80/20",
        "resnet18 encoder",
        "3 input channels",
        "1st and 99.8th percentiles",
        "256 \N{MULTIPLICATION SIGN} 256 pixels",
        "batches of 8",
        "Dice",
        "focal",
        "AdamW",
        "3.16e-04",
        "range test",
        "5 epochs (12 min 05 s)",
        "cpu bf16",
        "epoch 4",
        "threshold 0.450",
        "minimum object size 10 pixels",
        "IoU ≥ 0.5",
        "0.5 to 0.95",
        "PyTorch 2.14.0",
        "segmentation_models_pytorch 0.5.0",
        "flips",
        "elastic deformation",
    ):
        assert expected in text, expected
    assert "Gaussian noise" not in text  # noise is off in the helper's configuration


def test_minimal_data_gives_a_clean_paragraph():
    data = ReportData(training={"name": "t", "status": "succeeded"}, config={"training_type": "semantic"})
    text = methods_paragraph(data)
    assert "semantic segmentation" in text
    for bad in (r"\bNone\b", r"\bnan\b", r"n/d", r"  ", r"\(\)"):
        assert not re.search(bad, text), bad


def test_a_working_scale_below_one_is_stated_with_its_reason():
    data = synthetic_report()
    data.config["scale"] = {"factor": 0.5, "rule": "auto", "median_width": 42.5, "max_width": 32.0}
    text = methods_paragraph(data)
    assert "shrunk by a factor of 0.5" in text and "42.5 pixels wide at the median" in text
    assert "resized back to the original pixels before post-processing" in text
    data.config["scale"] = {"factor": 1.0, "rule": "auto", "median_width": 12.0, "max_width": 32.0}
    assert "shrunk" not in methods_paragraph(data)


def test_test_time_views_are_stated_before_the_post_processing():
    data = synthetic_report()
    data.config["views"] = 8
    text = methods_paragraph(data)
    assert "averaged the probability maps of 8 views (the image in its four 90-degree rotations" in text
    assert text.index("8 views") < text.index("Post-processing")
    for absent in (1, None):
        data.config["views"] = absent
        assert " views " not in methods_paragraph(data)


def test_h_maxima_seeds_are_stated_with_their_height():
    data = synthetic_report()
    data.config["training_type"] = "instance"
    data.config["postprocess"] = [{"label": "nucleus", "threshold": 0.7, "seed_threshold": 0.2, "seed_height": 0.1,
                                   "min_size": 20, "tuned_score": 0.9}]
    text = methods_paragraph(data)
    expected = "watershed seed threshold 0.200, seeds only at maxima rising at least 0.100 above their surroundings"
    assert expected in text
    data.config["postprocess"][0]["seed_height"] = 0.0
    assert "h-maxima" not in methods_paragraph(data)


def test_kept_weight_averages_replace_the_best_epoch_sentence():
    data = synthetic_report()
    data.training["weight_average"] = {"weights": 240, "from_share": 0.5, "score": 0.9, "best_epoch_score": 0.88,
                                       "kept": True}
    text = methods_paragraph(data)
    assert "The mean of 240 weight snapshots taken over the last 50 % of the training" in text
    assert "better than the best single epoch (epoch 4) and was kept" in text
    assert "were kept" not in text
    data.training["weight_average"]["kept"] = False
    assert "mean of 240" not in methods_paragraph(data) and "(epoch 4) were kept" in methods_paragraph(data)


def test_contact_weighting_of_instance_trainings_is_stated():
    data = synthetic_report()
    data.config.update({"training_type": "instance", "contact_weight": 4.0, "contact_reach": 2,
                        "use_distance_head": True})
    text = methods_paragraph(data)
    said = "Pixels within 2 pixels of two different objects counted 5 times in the focal and distance terms"
    assert said in text
    data.config["contact_weight"] = 0.0
    assert "two different objects" not in methods_paragraph(data)
    data.config.update({"contact_weight": 4.0, "training_type": "semantic"})
    assert "two different objects" not in methods_paragraph(data)
    data.config.pop("contact_weight")  # trainings from before contact weighting: nothing said
    data.config["training_type"] = "instance"
    assert "two different objects" not in methods_paragraph(data)


def test_edge_rays_of_instance_trainings_are_stated():
    data = synthetic_report()
    data.config.update({"training_type": "instance", "edge_rays": True})
    assert "distance to the object's edge in 16 directions" in methods_paragraph(data)
    data.config["edge_rays"] = False
    assert "16 directions" not in methods_paragraph(data)
    data.config.update({"edge_rays": True, "training_type": "semantic"})
    assert "16 directions" not in methods_paragraph(data)
    data.config.pop("edge_rays")  # trainings from before edge rays: nothing said
    data.config["training_type"] = "instance"
    assert "16 directions" not in methods_paragraph(data)


def test_per_image_scaling_states_what_happens_to_nearly_empty_images():
    data = synthetic_report()
    norm = data.config["normalization"]
    norm.update(scope="image", reference={"low": [137.0], "high": [1127.0], "stretch": [990.0], "images": 8},
                floor_fraction=0.25, stretch_floor=[247.5])
    text = methods_paragraph(data)
    assert "below 25% of the training images' median range (990, over 8 training images)" in text
    assert "scaled with that median range instead of its own" in text and "carry a warning" in text
    for key in ("reference", "floor_fraction", "stretch_floor"):  # a model trained before the floor existed
        norm.pop(key)
    assert "Every image, however faint, was stretched to its own range." in methods_paragraph(data)


def test_a_training_of_mixed_bit_depths_says_how_its_images_were_scaled():
    data = synthetic_report()
    norm = data.config["normalization"]
    norm.update(scope="image", dtype="uint8", mixed_depths={"uint16": 2, "uint8": 5},
                reference={"low": [10.0], "high": [200.0], "stretch": [190.0], "images": 5},
                floor_fraction=0.25, stretch_floor=[47.5])
    text = methods_paragraph(data)
    assert "the training images mixed bit depths: 2 uint16, 5 uint8 images" in text
    assert "of each image mapped to 0 and 1" in text
    assert "measured in uint8 units: it applied to the uint8 images" in text
    norm.clear()
    norm.update(method="percentile", scope="dataset", low_percentile=1.0, high_percentile=99.8, low=[3.0],
                high=[250.0], dtype="uint8")
    assert "An image of another bit depth than the training images' (uint8) is scaled with its own" in \
        methods_paragraph(data)


def test_the_zoom_augmentation_is_named_only_when_it_was_on():
    data = synthetic_report()
    assert "magnification" not in methods_paragraph(data)
    data.config["augment"] = {**data.config["augment"], "zoom": 1.0}
    assert "magnification" not in methods_paragraph(data)
    data.config["augment"]["zoom"] = 1.6
    assert "random magnification by a factor from 1/1.6 to 1.6" in methods_paragraph(data)


def test_a_starting_model_kept_as_it_was_is_said_instead_of_the_best_epoch():
    data = synthetic_report()
    data.training["start_model"] = {"score": 0.82, "trained_score": 0.79, "kept": True}
    text = methods_paragraph(data)
    assert "The starting model as it was validated better than the fine-tuned weights (0.820 against 0.790)" in text
    assert "best validation score (epoch" not in text
    data.training["start_model"]["kept"] = False
    assert "starting model as it was" not in methods_paragraph(data)
