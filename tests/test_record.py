"""The run record: ``predictions.csv`` as the evaluation writes it is what the leaderboard reads, the
training-set size has one encoding for runs, ablations and tables, and the metric specs are the ones the
metrics are computed under and the tables, sweeps and CLI show."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from benchmark.ablation import metric_label, stored_keys
from benchmark.cli import headline
from benchmark.config import resolve_config
from benchmark.detector import Prediction
from benchmark.evaluation import evaluate
from benchmark.leaderboard.build import metric_columns
from benchmark.metrics.landmarks import landmark_summary
from benchmark.metrics.segmentation import segmentation_per_image, segmentation_summary
from benchmark.protocol import Protocol
from benchmark.record import tags
from benchmark.record.metrics import KIND_METRICS, metric_spec, primary, score_of, validation_name
from benchmark.record.predictions import (
    IMAGE_ID,
    PER_IMAGE_SCORE,
    per_image_columns,
    read_predictions,
    write_predictions,
)
from benchmark.validation import validation_score
from tests.blob_sets import blobs

LANDMARKS = Protocol(kind="landmarks", ground_truth="synthetic", mm_rule="1 mm", sdr_radii_mm=(2.0, 2.5, 4.0))
SEGMENTATION = Protocol(kind="segmentation", ground_truth="synthetic", mm_rule="1 mm")
IDS = ["001", "002", "010", "100"]  # look like numbers: must come back as the same text


def scored(masks: bool):
    test = dataclasses.replace(blobs(len(IDS), 0, masks=masks), ids=IDS)
    rng = np.random.default_rng(1)
    if masks:
        prediction = Prediction(masks=np.roll(test.masks, 1, axis=1))
        return test, evaluate(test, prediction, SEGMENTATION, [])
    shift = rng.normal(0, 2, test.landmarks.shape).astype(np.float32)
    spread = {"uncertainty_mm": np.abs(shift[..., 0])}
    prediction = Prediction(landmarks=test.landmarks + shift, extras=spread)
    return test, evaluate(test, prediction, LANDMARKS, ["a", "b"])


@pytest.mark.parametrize("kind", ["landmarks", "segmentation"])
def test_predictions_csv_reads_back_what_the_evaluation_wrote(tmp_path, kind):
    test, evaluation = scored(masks=kind == "segmentation")
    path = write_predictions(evaluation.table, tmp_path)
    read = read_predictions(path, per_image_columns(kind)).to_pandas()
    written = evaluation.table[per_image_columns(kind)]
    assert list(read.columns) == list(written.columns)
    assert read[IMAGE_ID].tolist() == written[IMAGE_ID].tolist() and set(read[IMAGE_ID]) == set(IDS)
    pd.testing.assert_frame_equal(read.drop(columns=IMAGE_ID), written.drop(columns=IMAGE_ID),
                                  check_dtype=False)
    # the per-image score the leaderboard tests on is the summary metric's per-image part
    per_image = read.groupby(IMAGE_ID, sort=False)[PER_IMAGE_SCORE[kind]].mean()
    summary = evaluation.metrics[primary(kind).name]
    assert per_image.mean() == pytest.approx(summary)


def test_the_landmark_table_keeps_the_detectors_per_landmark_extras(tmp_path):
    _, evaluation = scored(masks=False)
    read = read_predictions(write_predictions(evaluation.table, tmp_path), ["uncertainty_mm"]).to_pandas()
    assert len(read) == len(IDS) * 2 and read["uncertainty_mm"].notna().all()


def test_training_set_size_has_one_encoding_for_runs_ablations_and_tables():
    digested = SimpleNamespace(digest=lambda: "d")
    data = SimpleNamespace(fold_name="fold1", source="phantom:hand", train=digested, test=digested)
    for size, text in ((None, "all"), (10, "10")):
        config = resolve_config("smoke", "hand", "none", "heatmap", {"train_size": size})
        run_tags = tags.run_tags(config, data, "commit")
        assert run_tags[tags.TRAIN_SIZE] == text and set(tags.IDENTITY) <= set(run_tags)
        # an ablation finds the run by the tags the runner wrote (and the fold param it logged)
        stored = pd.DataFrame({key: [run_tags[key]] for key in (tags.VARIANT, tags.TRAIN_SIZE, tags.SEED)})
        stored[f"param.{tags.FOLD}"] = str(config["fold"])
        assert stored_keys(stored) == [tags.config_run_key(config)]
    assert sorted(["all", "10", "2"], key=tags.train_size_order) == ["2", "10", "all"]
    assert tags.train_size_tag("None") == tags.train_size_tag("all") == "all"


def test_every_ranked_metric_is_computed_under_its_spec_name():
    errors = np.array([[1.0, 3.0], [2.5, 5.0]])
    landmark_metrics = landmark_summary(errors, (2.0, 2.5, 4.0), "<=")
    assert {spec.name for spec in KIND_METRICS["landmarks"]} <= set(landmark_metrics)
    assert all(metric_spec(name) is not None for name in landmark_metrics if name.startswith("sdr_"))
    masks = np.zeros((2, 8, 8), np.uint8)
    masks[:, 2:5, 2:6] = 1
    spacing = np.ones((2, 2))
    segmentation_metrics = segmentation_summary(masks, masks, spacing)
    assert {spec.name for spec in KIND_METRICS["segmentation"]} <= set(segmentation_metrics)
    assert PER_IMAGE_SCORE["segmentation"] in segmentation_per_image(masks, masks, spacing)


def test_the_leaderboard_ablations_and_cli_show_the_same_specs():
    runs = pd.DataFrame(columns=["metrics.mre_mm", "metrics.sdr_2mm", "metrics.sdr_2.5mm", "metrics.hd95_mm"])
    kind, columns = metric_columns(runs)
    assert kind == "landmarks" and [c.name for c in columns] == ["mre_mm", "sdr_2mm", "sdr_2.5mm"]
    assert columns[0] == primary("landmarks") and not columns[0].higher_is_better
    assert [c.label for c in columns] == [metric_label(c.name) for c in columns] == \
        ["MRE (mm)", "SDR 2 mm (%)", "SDR 2.5 mm (%)"]
    kind, columns = metric_columns(pd.DataFrame(columns=["metrics.dice", "metrics.hd95_mm"]))
    assert kind == "segmentation" and columns[0].name == "dice" and columns[0].higher_is_better
    assert [metric_label(c.name) for c in columns] == [c.label for c in KIND_METRICS["segmentation"]]
    landmark_line = headline({"mre_mm": 1.5, "mre_sd_mm": 0.5, "sdr_2mm": 80.0, "sdr_10mm": 100.0})
    assert landmark_line == "mre_mm=1.5, sdr_2mm=80"
    assert headline({"dice": 0.75, "precision": 0.5, "hd95_mm": 3.0}) == "dice=0.75, hd95_mm=3"


@pytest.mark.parametrize("masks", [False, True])
def test_the_sweep_scores_an_epoch_as_the_detector_validated_it(masks):
    val = blobs(3, 2, masks=masks)
    if masks:
        prediction = Prediction(masks=np.roll(val.masks, 1, axis=1))
    else:
        prediction = Prediction(landmarks=val.landmarks + 1)
    score, logged = validation_score(val, prediction)
    assert list(logged) == [validation_name("segmentation" if masks else "landmarks")]
    assert score_of(logged) == score
