"""Mutation check: break one claim at a time in a scratch copy and run the tests that guard it.

Each mutant is an exact text replacement in one source file; a mutant is *caught* when at
least one of its guarding tests fails. Not part of CI (it takes minutes): run it after
changing a guarded test or the code it guards, and keep its output in the README.

Usage (from the repository root, in the environment the tests run in):
    python tools/mutants.py [--only NAME]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    name: str  # the claim that breaks
    path: str  # file, relative to the repository root
    before: str  # exact text replaced (must occur once)
    after: str
    tests: tuple[str, ...]  # pytest node ids that must catch it


MUTANTS = [
    Mutant(
        "resume does not load the model's weights",
        "src/edgedeblur_cli/training/train.py",
        '        self.model.load_state_dict(payload["model"])\n',
        "",
        ("tests/test_train_evaluate.py::test_resume_continues_exactly",),
    ),
    Mutant(
        "resume does not load the optimizer state",
        "src/edgedeblur_cli/training/train.py",
        '            optimizer.load_state_dict(payload["optimizer"])\n',
        "            pass\n",
        ("tests/test_train_evaluate.py::test_resume_continues_exactly",),
    ),
    Mutant(
        "write_atomic writes straight to the final path",
        "src/edgedeblur_cli/files/atomic.py",
        "        fd, tmp_name = _create_part_file(path)\n",
        "        fd, tmp_name = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), str(path)\n",
        ("tests/test_restore_cli.py::test_a_failed_rename_leaves_the_destination_absent_or_intact",),
    ),
    Mutant(
        "writing reads the umask by setting it (a folder made meanwhile gets 0777)",
        "src/edgedeblur_cli/files/atomic.py",
        "        if replaced_mode is not None:\n",
        "        umask = os.umask(0)\n        os.umask(umask)\n        if replaced_mode is not None:\n",
        ("tests/test_restore_cli.py::test_outputs_get_normal_permissions",),
    ),
    Mutant(
        "the edge branch trains in the deblur stage",
        "src/edgedeblur_cli/training/stages.py",
        '            p.requires_grad_(stage == "edges")\n',
        "            p.requires_grad_(True)\n",
        ("tests/test_train_evaluate.py::test_deblur_stage_leaves_the_edge_branch_as_it_was",),
    ),
    Mutant(
        "Canny thresholds 50/150 instead of the seed's 100/200",
        "src/edgedeblur_cli/edges.py",
        "low: int = 100, high: int = 200",
        "low: int = 50, high: int = 150",
        ("tests/test_degrade.py::test_canny_target_is_the_seed_formula",),
    ),
    Mutant(
        "restore writes its input unchanged",
        "src/edgedeblur_cli/cli/restoring.py",
        'out = {"main": image.with_pixels(restored)}',
        'out = {"main": image.with_pixels(image.pixels)}',
        ("tests/test_restore_cli.py::test_the_cli_writes_what_the_network_restores",),
    ),
    Mutant(
        "evaluate drops its model rows",
        "src/edgedeblur_cli/training/evaluate.py",
        "        rows.append(score_model(name, model, pairs, options, batch_size, progress))\n",
        "        pass\n",
        ("tests/test_train_evaluate.py::test_evaluate_json_scores_three_rows",),
    ),
    Mutant(
        "text follows the image on stdout",
        "src/edgedeblur_cli/files/batch.py",
        "                (stdout or sys.stdout.buffer).write(data)\n",
        '                (stdout or sys.stdout.buffer).write(data + b"done\\n")\n',
        ("tests/test_restore_cli.py::test_stdout_carries_only_the_image",),
    ),
    Mutant(
        "crop_to does not crop",
        "src/edgedeblur_cli/models/common.py",
        "    return x[..., : size[0], : size[1]]\n",
        "    return x\n",
        ("tests/test_models.py::test_padding_crops_back",),
    ),
    Mutant(
        "the command line imports torch before it knows what it was asked",
        "src/edgedeblur_cli/cli/app.py",
        "import click\n",
        "import click\nimport torch  # noqa: F401\n",
        ("tests/test_startup.py::test_help_version_and_usage_errors_do_not_import_torch",),
    ),
    Mutant(
        "restoring imports the training module",
        "src/edgedeblur_cli/restoring/restore.py",
        "from ..device import pick_device\n",
        "from ..training.distributed import pick_device\n",
        ("tests/test_startup.py::test_restoring_imports_nothing_of_training",),
    ),
    Mutant(
        "tiles are not blended (each tile overwrites its neighbours)",
        "src/edgedeblur_cli/restoring/restore.py",
        "                strips[0][i, :, :vh, l : l + vw].addcmul_(out[k, :, :vh, :vw], win)\n",
        "                strips[0][i, :, :vh, l : l + vw] = out[k, :, :vh, :vw] * win\n",
        ("tests/test_restore_cli.py::test_tiles_equal_the_whole_image",),
    ),
    Mutant(
        "the Hub is asked before the shipped copy",
        "src/edgedeblur_cli/weights.py",
        "    if has_shipped and not asked_repo:\n",
        "    if False:\n",
        ("tests/test_weights.py::test_shipped_copy_is_used_without_asking_the_hub",),
    ),
    Mutant(
        "the quick exit does not flush stdout",
        "src/edgedeblur_cli/cli/app.py",
        "        sys.stdout.flush()\n        sys.stderr.flush()\n",
        "        pass\n",
        ("tests/test_startup.py::test_the_quick_exit_keeps_unflushed_output_and_the_exit_code",),
    ),
    Mutant(
        "every PNG is taken for 16-bit",
        "src/edgedeblur_cli/files/io.py",
        '    maybe_16bit = fmt == "TIFF" or (fmt == "PNG" and png_bit_depth(data) == 16)\n',
        '    maybe_16bit = fmt == "TIFF" or fmt == "PNG"\n',
        ("tests/test_restore_cli.py::test_png_headers_tell_8_from_16_bits",),
    ),
    Mutant(
        "a PNG whose rows do not inflate is handed to OpenCV (libpng prints on stderr)",
        "src/edgedeblur_cli/files/png_codec.py",
        '            return rows_are_sound(b"".join(compressed), height, 1 + width * channels)\n',
        "            return True\n",
        ("tests/test_codecs.py::test_pngs_with_valid_crcs_but_broken_rows_go_through_pillow",),
    ),
    Mutant(
        "on the CPU, files are decoded beside the network",
        "src/edgedeblur_cli/cli/common.py",
        '            decode_ahead=device_type != "cpu",\n',
        "            decode_ahead=True,\n",
        ("tests/test_reliability.py::test_the_cli_on_the_cpu_decodes_and_encodes_in_its_own_thread",),
    ),
    Mutant(
        "--strength is ignored",
        "src/edgedeblur_cli/restoring/restore.py",
        "    if strength != 1.0:\n",
        "    if False:\n",
        ("tests/test_strength.py",),
    ),
    Mutant(
        "the real-noise preset blurs some of its inputs",
        "src/edgedeblur_cli/degradations/realistic.py",
        "    blur_none=1.0, blur_gaussian=0.0,",
        "    blur_none=0.9, blur_gaussian=0.1,",
        ("tests/test_degrade_real.py::test_the_noise_only_preset_never_blurs_and_mostly_adds_camera_grain",),
    ),
    Mutant(
        "the noise-only preset draws the older grain, one for all channels",
        "src/edgedeblur_cli/degradations/realistic.py",
        "linear_light=0.7, split_grain=1.0,",
        "linear_light=0.7, split_grain=0.0,",
        ("tests/test_degrade_real.py::test_the_noise_only_preset_draws_its_grain_as_a_cameras_jpeg_leaves_it",),
    ),
    Mutant(
        "camera noise's colour is as fine as its luminance",
        "src/edgedeblur_cli/degradations/realistic.py",
        "    colour = _unit(cv2.GaussianBlur(colour, (0, 0), sigmaX=rng.uniform(1.0, 3.0),",
        "    colour = _unit(cv2.GaussianBlur(colour, (0, 0), sigmaX=rng.uniform(0.4, 1.0),",
        ("tests/test_degrade_real.py::test_camera_noise_is_fine_in_luminance_and_blotchy_in_colour",),
    ),
    Mutant(
        "the noise-only preset saves its noise as JPEG only as often as v0.2.0's did",
        "src/edgedeblur_cli/degradations/realistic.py",
        "    jpeg=0.8, jpeg_quality=(60, 98),\n)",
        "    jpeg=0.6, jpeg_quality=(60, 98),\n)",
        ("tests/test_degrade_real.py::test_the_noise_only_preset_never_blurs_and_mostly_adds_camera_grain",),
    ),
    Mutant(
        "noise meant for linear light is added to the sRGB values",
        "src/edgedeblur_cli/degradations/realistic.py",
        "        return kind, linear_to_srgb(linear + np.sqrt(a * linear + b**2).astype(np.float32) * noise)\n",
        "        return kind, image + np.sqrt(a * linear + b**2).astype(np.float32) * noise\n",
        ("tests/test_degrade_real.py::test_noise_in_linear_light_is_stronger_in_dark_tones_as_a_cameras_is",),
    ),
    Mutant(
        "crops asked to be enlarged are not",
        "src/edgedeblur_cli/training/data.py",
        "    side = min(h, w, max(2, int(round(crop * factor))))\n",
        "    side = min(h, w, max(crop, int(round(crop * factor))))\n",
        ("tests/test_data.py::test_factors_below_one_enlarge_crops_softly",),
    ),
    Mutant(
        "a resumed run forgets the size of its network",
        "src/edgedeblur_cli/training/train.py",
        "            return create_model(c.model, saved_model_config(load_checkpoint(checkpoint, self._identity())))\n",
        "            return create_model(c.model)\n",
        ("tests/test_train_evaluate.py::test_init_from_a_grown_network_trains_and_resumes_at_its_size",),
    ),
    Mutant(
        "grown blocks do not start as the identity",
        "src/edgedeblur_cli/models/edgedeblur_s.py",
        "    return grown.train(trained.training)\n",
        "    torch.nn.init.ones_(grown.middle[-1].beta)\n    return grown.train(trained.training)\n",
        ("tests/test_models.py::test_grown_network_starts_with_the_trained_outputs_and_can_learn",),
    ),
    Mutant(
        "the default always picks its denoiser",
        "src/edgedeblur_cli/models/agreement_pair.py",
        "        return self._picks_strong(self.probe_agreement_db(images)).long()\n",
        "        return self._picks_strong(self.probe_agreement_db(images)).long() * 0\n",
        ("tests/test_do_no_harm.py::test_the_default_deblurs_a_blurred_photo",),
    ),
    Mutant(
        "a big photo's tiles each choose their own network",
        "src/edgedeblur_cli/restoring/restore.py",
        "    if hasattr(model, \"choose\") and max(images.shape[-2:]) > model.config.probe:\n",
        "    if False:\n",
        ("tests/test_agreement_pair.py",),
    ),
    Mutant(
        "the adversarial edge step never updates its discriminator",
        "src/edgedeblur_cli/training/stages.py",
        "    disc_optimizer.step()\n",
        "    pass\n",
        ("tests/test_train_evaluate.py::test_adversarial_edge_loss_updates_the_discriminator_and_trains_the_edge_branch",),
    ),
    Mutant(
        "validation averages per batch instead of per sample",
        "src/edgedeblur_cli/training/stages.py",
        '    return restoration_loss(restored, sharp, loss, reduction="sum")\n',
        "    return restoration_loss(restored, sharp, loss)\n",
        ("tests/test_train_evaluate.py::test_summed_stage_loss_is_the_per_sample_loss_summed",),
    ),
    Mutant(
        "an existing output is overwritten without --overwrite",
        "src/edgedeblur_cli/files/jobs.py",
        "            if main_path.exists() and not overwrite:\n",
        "            if False:\n",
        ("tests/test_reliability.py::test_settle_outputs_refuses_clashes_and_input_overwrites_and_skips_existing_outputs",),
    ),
    Mutant(
        "the kernel is applied as a correlation (mirrored), not the point-spread function",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "    weight = kernel.flip(0, 1)[None, None]",
        "    weight = kernel[None, None]",
        ("tests/test_kernel_path.py::test_the_kernel_is_the_point_spread_function",),
    ),
    Mutant(
        "deconvolution ignores the learned prior (plain Wiener-like data steps)",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "            z = denoise_in_tiles(prior, x, sigma, options.prior_tile, options.prior_overlap).float()\n",
        "            z = x\n",
        ("tests/test_kernel_path.py::test_known_kernel_beats_wiener_with_the_same_kernel",),
    ),
    Mutant(
        "a big photo's decoded integers are deconvolved unscaled (a window not converted to [0, 1])",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "    out = split_deconvolve(pad_periodic(unit_float(image), kernel, margin, extra), kernel, prior, noise, options)\n",
        "    out = split_deconvolve(pad_periodic(image.float(), kernel, margin, extra), kernel, prior, noise, options)\n",
        ("tests/test_kernel_path.py::test_decoded_integers_deconvolve_as_their_floats_do",),
    ),
    Mutant(
        "a PNG that was once a JPEG is read as a PNG born so (its noise trusted where JPEG emptied it)",
        "src/edgedeblur_cli/cli/kernels.py",
        "    return image.format in JPEG_FORMATS or once_jpeg(image.pixels)\n",
        "    return image.format in JPEG_FORMATS\n",
        ("tests/test_kernel_path.py::test_a_png_that_was_once_a_jpeg_is_read_as_one",),
    ),
    Mutant(
        "JPEG history compared against the same grid, not the grid shifted by 4 px (nothing is ever told)",
        "src/edgedeblur_cli/files/jpeg_history.py",
        "    return lattice_score(luma[oy : oy + n_h, ox : ox + n_w]) - lattice_score(luma[oy + 4 : oy + 4 + n_h, ox + 4 : ox + 4 + n_w])\n",
        "    return lattice_score(luma[oy : oy + n_h, ox : ox + n_w]) - lattice_score(luma[oy : oy + n_h, ox : ox + n_w])\n",
        ("tests/test_kernel_path.py::test_jpeg_history_is_told_by_the_quantization_lattice",),
    ),
    Mutant(
        "a JPEG cropped off its 8x8 grid is looked for on the grid from the top left only",
        "src/edgedeblur_cli/files/jpeg_history.py",
        "    offset = grid_offset(_central_luma(pixels, SEARCH_BLOCKS))\n",
        "    offset = (0, 0)\n",
        ("tests/test_kernel_path.py::test_jpeg_history_is_told_by_the_quantization_lattice",),
    ),
    Mutant(
        "the grid search's offset read with its axes swapped",
        "src/edgedeblur_cli/files/jpeg_history.py",
        "    return int(oy), int(ox)\n",
        "    return int(ox), int(oy)\n",
        ("tests/test_kernel_path.py::test_jpeg_history_is_told_by_the_quantization_lattice",),
    ),
    Mutant(
        "the cepstrum's angles read with the rows' axis upside down (a motion at 30 degrees found at 150)",
        "src/edgedeblur_cli/deconvolution/straight.py",
        "    map_y = (side_h // 2 - lengths[None, :] * np.sin(theta)).astype(np.float32)\n",
        "    map_y = (side_h // 2 + lengths[None, :] * np.sin(theta)).astype(np.float32)\n",
        ("tests/test_kernel_path.py::test_the_cepstrum_measures_a_straight_motion",),
    ),
    Mutant(
        "any estimate is replaced by a line, a curved one too",
        "src/edgedeblur_cli/deconvolution/straight.py",
        "    if fit.agreement < min_agreement or fit.sagitta > max_sagitta:\n        return kernel, None\n",
        "",
        ("tests/test_kernel_path.py::test_a_straight_estimate_too_short_is_drawn_at_the_blurs_length",),
    ),
    Mutant(
        "the cepstrum is searched no longer than the estimate's own line",
        "src/edgedeblur_cli/deconvolution/straight.py",
        "max(3.0, 0.5 * fit.length), 2.5 * fit.length,",
        "max(3.0, 0.5 * fit.length), 1.0 * fit.length,",
        ("tests/test_kernel_path.py::test_a_straight_estimate_too_short_is_drawn_at_the_blurs_length",),
    ),
    Mutant(
        "a line is drawn wherever the cepstrum is lowest, peak or not (a sharp photo's short line grows)",
        "src/edgedeblur_cli/deconvolution/straight.py",
        "    if line.length <= 0 or line.prominence < min_prominence:\n",
        "    if line.length <= 0:\n",
        ("tests/test_kernel_path.py::test_a_sharp_photos_short_line_estimate_is_not_straightened",),
    ),
    Mutant(
        "a path bowed off its chord is drawn straight all the same",
        "src/edgedeblur_cli/deconvolution/straight.py",
        "    if fit.agreement < min_agreement or fit.sagitta > max_sagitta:\n",
        "    if fit.agreement < min_agreement:\n",
        ("tests/test_kernel_path.py::test_a_bent_path_is_not_drawn_straight",),
    ),
    Mutant(
        "the bow is measured across the wrong axis (along and across swapped)",
        "src/edgedeblur_cli/deconvolution/straight.py",
        "    return k, dx * cos + dy * sin, dy * cos - dx * sin, angle\n",
        "    return k, dy * cos - dx * sin, dx * cos + dy * sin, angle\n",
        ("tests/test_kernel_path.py::test_the_bow_of_a_path_is_measured_in_pixels",),
    ),
    Mutant(
        "the rule does not ask the photo's spectrum to carry the kernel",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    return marks.agreement >= rule.min_spectral_agreement and marks.orientation_margin >= rule.min_orientation_margin\n",
        "    return marks.orientation_margin >= rule.min_orientation_margin\n",
        ("tests/test_kernel_path.py::test_a_kernel_the_spectrum_does_not_carry_is_refused",),
    ),
    Mutant(
        "the spectrum is asked of the chosen estimate, not of the first setting's the rule judges",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    marks = spectral_marks(pixels, judged_estimate(estimate).kernel)\n",
        "    marks = spectral_marks(pixels, estimate.kernel)\n",
        ("tests/test_kernel_path.py::test_a_kernel_the_spectrum_does_not_carry_is_refused",),
    ),
    Mutant(
        "the rule does not ask the spectrum to tell the kernel from its mirror image and quarter turn",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    return marks.agreement >= rule.min_spectral_agreement and marks.orientation_margin >= rule.min_orientation_margin\n",
        "    return marks.agreement >= rule.min_spectral_agreement\n",
        ("tests/test_kernel_path.py::test_a_kernel_the_spectrum_cannot_orient_is_refused",),
    ),
    Mutant(
        "a line the cepstrum confirms skips the spectrum's agreement",
        "src/edgedeblur_cli/deconvolution/route.py",
        "        return marks.agreement >= rule.min_line_agreement\n",
        "        return True\n",
        ("tests/test_kernel_path.py::test_a_confirmed_line_must_carry_the_spectrums_mark_too",),
    ),
    Mutant(
        "a line the cepstrum confirms is asked the orientation margin too (a line along an axis refused)",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    if line:\n        return marks.agreement >= rule.min_line_agreement\n",
        "    if line:\n        return marks.agreement >= rule.min_line_agreement and marks.orientation_margin >= rule.min_orientation_margin\n",
        ("tests/test_kernel_path.py::test_a_confirmed_line_must_carry_the_spectrums_mark_too",),
    ),
    Mutant(
        "restore --json does not report the orientation margin the rule judged",
        "src/edgedeblur_cli/cli/kernels.py",
        '        details["orientation_margin"] = round(estimate.details["orientation_margin"], 3)\n',
        "",
        ("tests/test_kernel_path.py::test_restore_estimate_kernel_reports_the_measures_the_rule_judged",),
    ),
    Mutant(
        "the orientation margin is taken over the quarter turn only (a kernel that is its own mirror image passes)",
        "src/edgedeblur_cli/deconvolution/spectrum.py",
        "    return SpectralMarks(agreement, agreement - max(mirrored, turned))\n",
        "    return SpectralMarks(agreement, agreement - turned)\n",
        ("tests/test_kernel_path.py::test_the_spectrum_must_tell_the_kernel_from_its_mirror_image_and_quarter_turn",),
    ),
    Mutant(
        "the orientation margin is taken over the mirror image only (a kernel that is its own quarter turn passes)",
        "src/edgedeblur_cli/deconvolution/spectrum.py",
        "    return SpectralMarks(agreement, agreement - max(mirrored, turned))\n",
        "    return SpectralMarks(agreement, agreement - mirrored)\n",
        ("tests/test_kernel_path.py::test_the_spectrum_must_tell_the_kernel_from_its_mirror_image_and_quarter_turn",),
    ),
    Mutant(
        "the photo's spectrum keeps how fast it falls in each ring (not only its direction)",
        "src/edgedeblur_cli/deconvolution/spectrum.py",
        "        photo_parts.append(log_photo[ring] - log_photo[ring].mean())\n",
        "        photo_parts.append(log_photo[ring])\n",
        ("tests/test_kernel_path.py::test_the_photos_spectrum_must_carry_the_kernels_mark",),
    ),
    Mutant(
        "rings that noise fills are compared too (a noisy shaken photo's kernel refused)",
        "src/edgedeblur_cli/deconvolution/spectrum.py",
        "        if np.median(log_photo[ring]) < floor:\n",
        "        if False:\n",
        ("tests/test_kernel_path.py::test_a_kernel_the_spectrum_does_not_carry_is_refused",),
    ),
    Mutant(
        "the rule asks a line the cepstrum confirms to pass the sharpening and residual checks too",
        "src/edgedeblur_cli/deconvolution/route.py",
        '    trusted = rule.trust_straight and "straight" in judged.details  # a line the cepstrum confirms\n',
        "    trusted = False\n",
        ("tests/test_kernel_path.py::test_a_line_the_cepstrum_confirms_wins_over_a_sharper_deconvolution",),
    ),
    Mutant(
        "a line the cepstrum confirms is chosen among the settings by sparsity, like any estimate",
        "src/edgedeblur_cli/deconvolution/route.py",
        '    if "straight" in first.details or (rule',
        "    if False or (rule",
        ("tests/test_kernel_path.py::test_a_line_the_cepstrum_confirms_wins_over_a_sharper_deconvolution",),
    ),
    Mutant(
        "the transfer function forgets to move the kernel's centre to the origin (output shifted)",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "    return torch.fft.rfft2(torch.roll(padded, (-(kh // 2), -(kw // 2)), dims=(0, 1)))",
        "    return torch.fft.rfft2(padded)",
        ("tests/test_kernel_path.py::test_known_kernel_beats_wiener_with_the_same_kernel",),
    ),
    Mutant(
        "tiles are deconvolved without real neighbours as context",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "    return 2 * extent + 64",
        "    return 0",
        ("tests/test_kernel_path.py::test_tiled_deconvolution_matches_the_whole",),
    ),
    Mutant(
        "the estimator's kernel solve drops the blurred gradients of one direction",
        "src/edgedeblur_cli/deconvolution/latent.py",
        "    spectrum = (np.conj(fpx) * fbx + np.conj(fpy) * fby) / (power + weight * mean_power)",
        "    spectrum = (np.conj(fpx) * fbx) / (power + weight * mean_power)",
        ("tests/test_kernel_path.py::test_the_estimator_recovers_a_motion_kernel",),
    ),
    Mutant(
        "the estimator's coarser scales keep sizes NumPy transforms slowly (primes)",
        "src/edgedeblur_cli/deconvolution/estimate.py",
        "            shape = (fft_friendly(shape[0]), fft_friendly(shape[1]))\n",
        "            pass\n",
        ("tests/test_kernel_path.py::test_the_pyramid_below_the_region_takes_fft_friendly_shapes",),
    ),
    Mutant(
        "the size search grows on a few specks of noise on the window's border",
        "src/edgedeblur_cli/deconvolution/estimate.py",
        "    return bool(kernel.sum() - inner > GROW_MASS)",
        "    return bool(kernel.sum() - inner > 0.01)",
        ("tests/test_kernel_path.py::test_the_size_search_grows_on_a_kernels_mass_not_on_specks",),
    ),
    Mutant(
        "the default deconvolves every photo whatever its kernel",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    return estimate.radius >= rule.min_radius and estimate.fill <= rule.max_fill and estimate.confidence >= rule.min_confidence",
        "    return True",
        ("tests/test_kernel_path.py::test_a_sharp_photo_gets_a_near_delta_kernel_and_the_networks_route", "tests/test_kernel_path.py::test_the_rule_needs_a_path_of_real_extent_and_its_confidence"),
    ),
    Mutant(
        "the default deconvolves blobs (Gaussian, defocus) as well as paths",
        "src/edgedeblur_cli/deconvolution/route.py",
        " and estimate.fill <= rule.max_fill",
        "",
        ("tests/test_kernel_path.py::test_the_rule_needs_a_path_of_real_extent_and_its_confidence",),
    ),
    Mutant(
        "the default deconvolves whatever the re-blur residual",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    return rule.min_residual <= residual <= rule.max_residual\n",
        "    return True\n",
        ("tests/test_kernel_path.py::test_a_wrong_kernel_sends_the_photo_to_the_networks",),
    ),
    Mutant(
        "the default trusts a kernel that explains the photo better than its noise allows (fitted to grain)",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    return rule.min_residual <= residual <= rule.max_residual\n",
        "    return residual <= rule.max_residual\n",
        ("tests/test_kernel_path.py::test_a_kernel_that_explains_more_than_the_noise_allows_is_refused",),
    ),
    Mutant(
        "the default fits the kernel to regions as they are, noise and all",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    denoise = prior_denoiser(prior)\n    settings",
        "    denoise = None\n    settings",
        ("tests/test_kernel_path.py::test_the_default_fits_the_kernel_to_regions_the_prior_denoised",),
    ),
    Mutant(
        "the default keeps its first candidate estimate, however blurred its deconvolution",
        "src/edgedeblur_cli/deconvolution/choose.py",
        "    return int(np.argmin(region_sparsity(",
        "    return 0 * int(np.argmin(region_sparsity(",
        ("tests/test_kernel_path.py::test_the_sharpest_deconvolution_chooses_the_right_kernel",
         "tests/test_kernel_path.py::test_the_default_keeps_the_sharpest_of_its_candidate_estimates"),
    ),
    Mutant(
        "the default estimates with its first setting alone",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    settings = [replace(options, **change) for change in candidates or ({},)]\n",
        "    settings = [options]\n",
        ("tests/test_kernel_path.py::test_the_default_keeps_the_sharpest_of_its_candidate_estimates",),
    ),
    Mutant(
        "the route chooses among its candidates for a photo whose kernel it refuses",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    if rule is not None and not takes_kernel_path(first, rule):\n",
        "    if False:\n",
        ("tests/test_kernel_path.py::test_the_route_chooses_among_candidates_only_for_a_photo_it_may_deconvolve",),
    ),
    Mutant(
        "every setting is estimated before the first is judged (a refused photo, a confirmed line cost three)",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    first = straightened(estimate_kernel(pixels, settings[0], denoise, parallel_regions=True))\n",
        "    first = [straightened(e) for e in _side_by_side(pixels, settings, denoise)][0]\n",
        (
            "tests/test_kernel_path.py::test_the_route_chooses_among_candidates_only_for_a_photo_it_may_deconvolve",
            "tests/test_kernel_path.py::test_a_line_the_cepstrum_confirms_wins_over_a_sharper_deconvolution",
        ),
    ),
    Mutant(
        "the route skips the choice among candidates for a photo its kernel sharpens",
        "src/edgedeblur_cli/deconvolution/route.py",
        '(rule is not None and first.details["sharpening"] < rule.min_sharpening)',
        "(rule is not None)",
        ("tests/test_kernel_path.py::test_the_route_chooses_among_candidates_only_for_a_photo_it_may_deconvolve",),
    ),
    Mutant(
        "a photo whose first estimate does not sharpen it still has the other settings estimated",
        "src/edgedeblur_cli/deconvolution/route.py",
        '    if "straight" in first.details or (rule is not None and first.details["sharpening"] < rule.min_sharpening):\n',
        '    if "straight" in first.details:\n',
        ("tests/test_kernel_path.py::test_the_route_chooses_among_candidates_only_for_a_photo_it_may_deconvolve",),
    ),
    Mutant(
        "sparsity is measured without normalising by the gradients' energy",
        "src/edgedeblur_cli/deconvolution/choose.py",
        "    return float(grads.sum() / energy) if energy > 0 else 1.0\n",
        "    return float(grads.sum()) if energy > 0 else 1.0\n",
        ("tests/test_kernel_path.py::test_blur_makes_gradients_less_sparse",),
    ),
    Mutant(
        "the rule judges the sharpest candidate, not the first setting's estimate it was chosen on",
        "src/edgedeblur_cli/deconvolution/route.py",
        '    return estimate.details.get("first_setting", estimate)\n',
        "    return estimate\n",
        ("tests/test_kernel_path.py::test_the_rule_judges_the_first_settings_estimate_and_the_route_uses_the_sharpest",),
    ),
    Mutant(
        "the rule deconvolves by a kernel that does not sharpen the photo",
        "src/edgedeblur_cli/deconvolution/route.py",
        '    if judged.details["sharpening"] < rule.min_sharpening:\n',
        "    if False:\n",
        ("tests/test_kernel_path.py::test_a_kernel_that_does_not_sharpen_the_photo_is_refused",),
    ),
    Mutant(
        "sharpening measured upside down (the delta's sparsity under the kernel's)",
        "src/edgedeblur_cli/deconvolution/choose.py",
        "    return by_delta / by_kernel\n",
        "    return by_kernel / by_delta\n",
        ("tests/test_kernel_path.py::test_deconvolving_a_blurred_photo_sharpens_it_and_a_sharp_one_does_not",),
    ),
    Mutant(
        "the default's estimates carry the sharpening of no blur at all",
        "src/edgedeblur_cli/deconvolution/route.py",
        '        first.details["sharpening"] = sharpening(pixels, first, region_deconvolver(prior, noise, BLIND_DECONVOLUTION, compressed))\n',
        '        first.details["sharpening"] = 1.0\n',
        ("tests/test_kernel_path.py::test_the_choice_ranks_on_a_short_schedule_and_the_sharpening_on_the_blind_one",),
    ),
    Mutant(
        "edgedeblur kernel refuses a photo too small for the route",
        "src/edgedeblur_cli/cli/kernels.py",
        "compressed=from_jpeg(image), min_side=0)",
        "compressed=from_jpeg(image))",
        ("tests/test_kernel_path.py::test_the_kernel_command_estimates_a_photo_too_small_for_the_route",),
    ),
    Mutant(
        "the default's route reads a JPEG photo's noise from the finest band alone",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    return deconvolve_pixels(pixels, estimate.kernel, prior, noise, BLIND_DECONVOLUTION, compressed), estimate",
        "    return deconvolve_pixels(pixels, estimate.kernel, prior, noise, BLIND_DECONVOLUTION), estimate",
        ("tests/test_kernel_path.py::test_the_default_route_reads_a_jpeg_photos_noise_as_jpeg",),
    ),
    Mutant(
        "the choice ranks the estimates on the blind route's whole schedule",
        "src/edgedeblur_cli/deconvolution/route.py",
        "RANKING_DECONVOLUTION = replace(BLIND_DECONVOLUTION, iterations=2)",
        "RANKING_DECONVOLUTION = BLIND_DECONVOLUTION",
        ("tests/test_kernel_path.py::test_the_choice_ranks_on_a_short_schedule_and_the_sharpening_on_the_blind_one",),
    ),
    Mutant(
        "the sharpening check measures on the ranking's short schedule",
        "src/edgedeblur_cli/deconvolution/route.py",
        "sharpening(pixels, first, region_deconvolver(prior, noise, BLIND_DECONVOLUTION, compressed))",
        "sharpening(pixels, first, region_deconvolver(prior, noise, RANKING_DECONVOLUTION, compressed))",
        ("tests/test_kernel_path.py::test_the_choice_ranks_on_a_short_schedule_and_the_sharpening_on_the_blind_one",),
    ),
    Mutant(
        "the choice ranks by the sharpening's deconvolutions, not the ranking's",
        "src/edgedeblur_cli/deconvolution/route.py",
        "_chosen(pixels, estimates, region_deconvolver(prior, noise, RANKING_DECONVOLUTION, compressed))",
        "_chosen(pixels, estimates, region_deconvolver(prior, noise, BLIND_DECONVOLUTION, compressed))",
        ("tests/test_kernel_path.py::test_the_choice_ranks_on_a_short_schedule_and_the_sharpening_on_the_blind_one",),
    ),
    Mutant(
        "the blind route deconvolves by its estimates as if they were exact",
        "src/edgedeblur_cli/deconvolution/route.py",
        "BLIND_DECONVOLUTION = DeconvolutionOptions(noise_scale=1.5)",
        "BLIND_DECONVOLUTION = DeconvolutionOptions()",
        ("tests/test_kernel_path.py::test_a_kernel_a_little_off_rings_less_deconvolved_as_if_noisier",),
    ),
    Mutant(
        "every known kernel gets the path schedule, blobs too",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "    if not is_blob(kernel):\n        return options\n",
        "    if True:\n        return options\n",
        ("tests/test_kernel_path.py::test_a_known_kernel_gets_the_schedule_of_its_shape",),
    ),
    Mutant(
        "a blob from a JPEG file is deconvolved at the noise it reads",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "    scale = options.noise_scale * (JPEG_BLOB_NOISE_SCALE if compressed else 1.0)",
        "    scale = options.noise_scale",
        ("tests/test_kernel_path.py::test_a_known_kernel_gets_the_schedule_of_its_shape",),
    ),
    Mutant(
        "--kernel deconvolves with the path schedule whatever the kernel's shape",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    options = schedule_for(kernel, compressed=compressed) if options is None else options",
        "    options = DeconvolutionOptions() if options is None else options",
        ("tests/test_kernel_path.py::test_blobs_deconvolve_better_with_their_schedule_and_paths_with_theirs",),
    ),
    Mutant(
        "the deconvolution ignores noise_scale",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "    noise = max(noise * options.noise_scale, options.noise_floor)",
        "    noise = max(noise, options.noise_floor)",
        ("tests/test_kernel_path.py::test_a_kernel_a_little_off_rings_less_deconvolved_as_if_noisier",),
    ),
    Mutant(
        "the prior never runs in bfloat16",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=wanted)",
        "    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=False)",
        ("tests/test_kernel_path.py::test_the_prior_in_bfloat16_deconvolves_as_float32_does",),
    ),
    Mutant(
        "a negative kernel is accepted",
        "src/edgedeblur_cli/deconvolution/kernels.py",
        "    if (k < -1e-6 * max(float(np.abs(k).max()), 1e-12)).any():",
        "    if False:",
        ("tests/test_kernel_path.py::test_a_bad_kernel_file_fails_with_one_line_naming_it",),
    ),
    Mutant(
        "a kernel larger than the photo is not refused",
        "src/edgedeblur_cli/deconvolution/deconvolve.py",
        "    if kh > h or kw > w:\n        raise KernelError(f\"the kernel ({kh}x{kw} px) is larger than the photo ({h}x{w} px)\")",
        "    if False:\n        pass",
        ("tests/test_kernel_path.py::test_a_kernel_larger_than_the_photo_fails_that_photo_only",),
    ),
    Mutant(
        "every share takes every file",
        "src/edgedeblur_cli/files/sharding.py",
        "    return share_of(output_key(destination, out_folder), shard.count) == shard.index\n",
        "    return True\n",
        ("tests/test_sharding.py::test_shards_together_write_exactly_what_one_process_writes",),
    ),
    Mutant(
        "shares follow Python's per-process hash (a machine computes another split)",
        "src/edgedeblur_cli/files/sharding.py",
        '    digest = hashlib.blake2b(key.encode("utf-8", "surrogateescape"), digest_size=8).digest()\n',
        '    digest = hash(key).to_bytes(8, "big", signed=True)\n',
        ("tests/test_sharding.py::test_shares_are_stable_and_adding_files_moves_none",),
    ),
    Mutant(
        "every torchrun rank prints its own summary",
        "src/edgedeblur_cli/cli/common.py",
        "    return whole, shard_from_environment().index == 1\n",
        "    return whole, True\n",
        ("tests/test_sharding.py::test_two_processes_under_torchrun_write_what_one_writes",),
    ),
    Mutant(
        "finished rows of the strip are not moved up before the next row of tiles",
        "src/edgedeblur_cli/restoring/restore.py",
        "        shift = min(t - done, tile_h)\n",
        "        shift = 0\n",
        ("tests/test_restore_cli.py::test_decoded_photos_are_restored_in_their_own_integers",),
    ),
    Mutant(
        "a decoded photo comes back as float, not in its own integers",
        "src/edgedeblur_cli/restoring/restore.py",
        "    return values.mul_(scale).round_().to(dtype)\n",
        "    return values\n",
        ("tests/test_restore_cli.py::test_decoded_photos_are_restored_in_their_own_integers",),
    ),
    Mutant(
        "the other candidate settings fit two regions again (their confidence judged by nothing)",
        "src/edgedeblur_cli/deconvolution/route.py",
        "    settings[1:] = [replace(setting, regions=1) for setting in settings[1:]]\n",
        "    settings[1:] = [replace(setting, regions=setting.regions) for setting in settings[1:]]\n",
        ("tests/test_kernel_path.py::test_the_other_candidate_settings_fit_their_best_region_alone",),
    ),
    Mutant(
        "--help lists every option again (no longer one screen)",
        "src/edgedeblur_cli/cli/help.py",
        "        if ctx.meta.get(SHOW_ALL):\n            super().format_options(ctx, formatter)\n            return\n",
        "        if True:\n            super().format_options(ctx, formatter)\n            return\n",
        ("tests/test_startup.py::test_each_help_fits_one_screen_and_names_every_option",),
    ),
    Mutant(
        "restoring imports training",
        "src/edgedeblur_cli/restoring/ranks.py",
        "import torch.distributed as dist\n",
        "import torch.distributed as dist\n\nfrom ..training.distributed import Distributed  # noqa: F401\n",
        ("tests/test_layout.py",),
    ),
]


def run_tests(scratch: Path, tests: tuple[str, ...]) -> tuple[bool, float]:
    """(all passed, seconds) for ``tests`` run against the scratch copy's sources."""
    env = {**os.environ, "PYTHONPATH": str(scratch / "src")}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=scratch,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return result.returncode == 0, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="run only mutants whose name contains this text")
    args = parser.parse_args()
    mutants = [m for m in MUTANTS if not args.only or args.only in m.name]
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    survived = 0
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / "repo"
        if (ROOT.parent / "shared").is_dir():  # the tests on shared photos would skip without it, and catch nothing
            (Path(tmp) / "shared").symlink_to(ROOT.parent / "shared")
        for name in tracked:
            if (ROOT / name).is_file():
                (scratch / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, scratch / name)
        for mutant in mutants:
            target = scratch / mutant.path
            original = target.read_text()
            if original.count(mutant.before) != 1:
                print(f"STALE     {mutant.name}: the text to mutate is not in {mutant.path} exactly once; update tools/mutants.py")
                survived += 1
                continue
            target.write_text(original.replace(mutant.before, mutant.after))
            try:
                passed, seconds = run_tests(scratch, mutant.tests)
            finally:
                target.write_text(original)
            survived += passed
            verdict = "SURVIVED" if passed else "caught  "
            print(f"{verdict}  {mutant.name}  ({', '.join(t.split('::')[-1] for t in mutant.tests)}; {seconds:.0f} s)", flush=True)
        clean_passed, _ = run_tests(scratch, tuple(dict.fromkeys(t for m in mutants for t in m.tests)))
    print(f"{len(mutants) - survived} of {len(mutants)} caught; the unmutated code passes the same tests: {clean_passed}")
    return 0 if survived == 0 and clean_passed else 1


if __name__ == "__main__":
    sys.exit(main())
