"""The C++ LmdmModel (through lmdm._engine) against lmdm.streaming.live.LiveDelay, and its refusal of bad packages."""

import json
import shutil

import numpy as np
import pytest

from lmdm.streaming.live import LiveDelay, LiveSettings

from signals import guitar_like

BLOCKS = 10


@pytest.mark.parametrize("follow, smoothing, seed", [((True, True, True), 1, 0), ((True, False, True), 5, 9)])
def test_engine_matches_the_python_reference_block_for_block(engine_module, package, follow, smoothing, seed):
    folder, _ = package
    reference = LiveDelay(folder, LiveSettings(seed=seed, follow=follow, smoothing=smoothing))
    engine = engine_module.LmdmModel(str(folder))
    engine.set_settings(follow=follow, smoothing=smoothing)
    engine.restart(seed)
    prompt = reference.prompts["violin"]
    reference.set_prompt(prompt)
    engine.set_prompt(prompt)
    audio = guitar_like(BLOCKS * reference.block_samples, notes=5, period=1 / 3)
    worst = {"controls": 0.0, "latents": 0.0, "audio": 0.0}
    for block in np.split(audio, BLOCKS):
        expected, actual = reference.process(block), engine.process(block)
        worst["controls"] = max(worst["controls"], float(np.abs(engine.last_controls - reference.last_controls).max()))
        worst["latents"] = max(worst["latents"], float(np.abs(engine.last_latents - reference.last_latents).max()))
        worst["audio"] = max(worst["audio"], float(np.abs(actual - expected).max() / max(1.0, np.abs(expected).max())))
    assert worst["controls"] <= 1e-4 and worst["latents"] <= 1e-3 and worst["audio"] <= 1e-3, worst


def test_guidance_without_the_controls_matches_the_reference_and_changes_the_output(engine_module, package, tmp_path):
    """unconditional_drops: ["text", "controls"] (what export writes) against the first packages'
    ["text"]: the engine agrees with the Python reference under both, and the two guide differently."""
    text_only = broken(package, tmp_path, edit_manifest(lambda m: m["stream"].update(unconditional_drops=["text"])))
    stream = json.loads((package[0] / "manifest.json").read_text())["stream"]
    assert stream["unconditional_drops"] == ["text", "controls"]
    outputs = {}
    for name, folder in (("text and controls", package[0]), ("text", text_only)):
        reference, engine = LiveDelay(folder, LiveSettings(guidance=3.0)), engine_module.LmdmModel(str(folder))
        engine.set_settings(guidance=3.0)
        prompt = reference.prompts["violin"]
        reference.set_prompt(prompt)
        engine.set_prompt(prompt)
        audio = guitar_like(4 * reference.block_samples, notes=5, period=1 / 3)
        for block in np.split(audio, 4):
            reference.process(block)
            engine.process(block)
            assert np.abs(engine.last_latents - reference.last_latents).max() <= 1e-3, name
        outputs[name] = reference.last_latents
    assert np.abs(outputs["text"] - outputs["text and controls"]).max() > 1e-2


def test_guidance_one_denoises_the_conditional_row_alone_and_matches_the_reference(engine_module, package):
    """At guidance 1 CFG's u + 1 x (c - u) is c: the engine runs the denoiser and the encoder on one row
    (as the Python streamer does) and agrees with the reference; the cache's unconditional row takes the
    conditional keys, so switching to guidance 3 mid-stream goes on from the same context and guides at once."""
    folder, _ = package
    reference, engine = LiveDelay(folder, LiveSettings(guidance=1.0, seed=2)), engine_module.LmdmModel(str(folder))
    engine.set_settings(guidance=1.0)
    engine.restart(2)
    prompt = reference.prompts["violin"]
    reference.set_prompt(prompt)
    engine.set_prompt(prompt)
    audio = guitar_like(6 * reference.block_samples, notes=5, period=1 / 3)
    blocks = np.split(audio, 6)
    for block in blocks[:4]:
        reference.process(block)
        engine.process(block)
        assert np.abs(engine.last_latents - reference.last_latents).max() <= 1e-3
    engine.set_settings(guidance=3.0)
    for block in blocks[4:]:
        reference.process(block)
        assert np.isfinite(engine.process(block)).all()
        assert np.abs(engine.last_latents - reference.last_latents).max() > 1e-2, "guidance 3 changes the block"


def test_pingpong_sampling_matches_the_reference_and_differs_from_euler(engine_module, package, tmp_path):
    """stream.solver "pingpong" (ARC-Forcing's few-step models): the engine re-noises each step's clean
    prediction with the same fresh noise as the Python reference, so the latents agree; Euler's differ."""
    pingpong = broken(package, tmp_path, edit_manifest(lambda m: m["stream"].update(solver="pingpong")))
    latents = {}
    for name, folder in (("euler", package[0]), ("pingpong", pingpong)):
        reference, engine = LiveDelay(folder, LiveSettings(seed=3)), engine_module.LmdmModel(str(folder))
        engine.restart(3)
        prompt = reference.prompts["violin"]
        reference.set_prompt(prompt)
        engine.set_prompt(prompt)
        audio = guitar_like(4 * reference.block_samples, notes=5, period=1 / 3)
        for block in np.split(audio, 4):
            reference.process(block)
            engine.process(block)
            assert np.abs(engine.last_latents - reference.last_latents).max() <= 1e-3, name
        latents[name] = reference.last_latents
    assert np.abs(latents["pingpong"] - latents["euler"]).max() > 1e-2


def test_engine_is_seeded_and_restartable(engine_module, package):
    folder, _ = package
    engine = engine_module.LmdmModel(str(folder))
    block = guitar_like(engine.block_samples, notes=5, period=1 / 3)
    first = [engine.process(block) for _ in range(3)]
    engine.restart(0)
    again = [engine.process(block) for _ in range(3)]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(again))
    engine.restart(1)
    assert not np.array_equal(engine.process(block), first[0])


def test_a_restart_can_keep_the_decoder_state_so_the_audio_continues(engine_module, package):
    # The plugin restarts the stream when the seed changes mid-performance; keeping the VAE decoder's
    # state continues the old audio's overlap-add tail instead of starting the new stream from zero.
    block = guitar_like(engine_module.LmdmModel(str(package[0])).block_samples, notes=5, period=1 / 3)
    outputs = {}
    for keep in (False, True):
        engine = engine_module.LmdmModel(str(package[0]))
        for _ in range(2):
            engine.process(block)
        engine.restart(1, keep_decoder_state=keep)
        outputs[keep] = engine.process(block)
    fresh = engine_module.LmdmModel(str(package[0]))
    fresh.restart(1)
    np.testing.assert_array_equal(outputs[False], fresh.process(block))  # a full restart is a fresh stream
    assert not np.array_equal(outputs[True], outputs[False])


def test_engine_cleans_non_finite_input_and_checks_sizes(engine_module, package):
    engine = engine_module.LmdmModel(str(package[0]))
    block = guitar_like(engine.block_samples, notes=5, period=1 / 3)
    block[::5] = np.inf
    block[1::5] = np.nan
    assert np.isfinite(engine.process(block)).all()
    with pytest.raises(ValueError, match="samples at the model rate"):
        engine.process(np.zeros(100, np.float32))
    with pytest.raises(ValueError, match="384 numbers"):
        engine.set_prompt(np.zeros(3, np.float32))


def test_absurd_levels_are_bounded_before_the_features(engine_module, package):
    # Squared, 1e30 overflows float32: unbounded, the features (and the model's controls) turn NaN.
    folder, _ = package
    reference, engine = LiveDelay(folder, LiveSettings()), engine_module.LmdmModel(str(folder))
    block = guitar_like(reference.block_samples, notes=5, period=1 / 3)
    for x in (block, np.where(np.arange(block.size) % 2, 1e30, -1e30).astype(np.float32), block):
        expected, actual = reference.process(x), engine.process(x)
        assert np.isfinite(reference.last_controls).all() and np.isfinite(engine.last_controls).all()
        assert np.abs(actual - expected).max() <= 1e-3 * max(1.0, np.abs(expected).max())


def test_providers_fall_back_to_the_cpu_with_the_reason(engine_module, package):
    offered = engine_module.selectable_providers()
    assert offered[0] == "cpu"
    for provider, reason in (("cuda", "no CUDAExecutionProvider"), ("coreml", "no CoreMLExecutionProvider"),
                             ("directml", "no DmlExecutionProvider"), ("tpu", "unknown execution provider 'tpu'")):
        if provider in offered:
            continue  # a runtime with that accelerator: nothing to fall back from
        model = engine_module.LmdmModel(str(package[0]), provider=provider)
        assert model.provider == "cpu" and reason in model.provider_note
        assert np.isfinite(model.process(np.zeros(model.block_samples, np.float32))).all()


def broken(package, tmp_path, damage) -> str:
    folder = tmp_path / "broken"
    shutil.copytree(package[0], folder)
    damage(folder)
    return str(folder)


def edit_manifest(change):
    def damage(folder):
        manifest = json.loads((folder / "manifest.json").read_text())
        change(manifest)
        (folder / "manifest.json").write_text(json.dumps(manifest))
    return damage


@pytest.mark.parametrize("damage, message", [
    (lambda f: (f / "denoiser.onnx").unlink(), "missing file: .*denoiser.onnx"),
    (lambda f: (f / "timestep.onnx").open("ab").write(b"\0"), "timestep.onnx does not match the manifest"),
    (lambda f: (f / "dit_weights.bin").open("r+b").write(b"\1\2\3\4"), "dit_weights.bin does not match the manifest"),
    (lambda f: (f / "manifest.json").write_text("{not json"), "manifest.json .*not valid JSON"),
    (edit_manifest(lambda m: m.update(schema_version=99)), "schema_version 99; this build reads version 1"),
    (edit_manifest(lambda m: m["stream"].pop("block_frames")), "no 'stream.block_frames'"),
    (edit_manifest(lambda m: m["stream"].update(variant="outpaint")), "'outpaint'; a host streams"),
    (edit_manifest(lambda m: m["stream"].update(solver="heun")), "solver is 'heun'; a host samples with"),
    (edit_manifest(lambda m: m["stream"].update(unconditional_drops=["controls"])),
     "unconditional_drops must be \\[\"text\"\\] or"),
    (edit_manifest(lambda m: m["graphs"]["denoiser"]["inputs"][0].update(shape=["batch", "frames", 7])),
     "denoiser.onnx input 'noisy': the manifest says shape \\[\\?, \\?, 7\\], the graph has \\[\\?, \\?, 4\\]"),
])
def test_engine_refuses_broken_packages_with_the_reason(engine_module, package, tmp_path, damage, message):
    with pytest.raises(engine_module.PackageError, match=message):
        engine_module.LmdmModel(broken(package, tmp_path, damage))


def test_engine_refuses_a_folder_that_is_not_a_package(engine_module, tmp_path):
    with pytest.raises(engine_module.PackageError, match="is '.*' a model package"):
        engine_module.LmdmModel(str(tmp_path))


def test_engine_checks_the_golden_fixtures(engine_module, package, tmp_path):
    errors = engine_module.check_fixtures(str(package[0]))
    manifest = json.loads((package[0] / "manifest.json").read_text())
    assert sorted(errors) == manifest["fixtures"]["graphs"]
    assert all(errors[g] <= manifest["fixtures"]["tolerance"][g] for g in errors)

    def shift_expected_velocity(folder):
        from safetensors.numpy import load_file, save_file
        path = folder / "fixtures" / "denoiser.safetensors"
        tensors = load_file(str(path))
        tensors["output.velocity"] = tensors["output.velocity"] + 0.1
        save_file(tensors, str(path))
    with pytest.raises(engine_module.PackageError, match="denoiser: fixture error"):
        engine_module.check_fixtures(broken(package, tmp_path, shift_expected_velocity))
