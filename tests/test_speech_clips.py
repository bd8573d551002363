import numpy as np
import pytest
from fastdtw import fastdtw
from scipy.io import wavfile

from cookbook.datasets import DatasetFormatError, speech_clips

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return speech_clips.generate(tmp_path_factory.mktemp("clips"), seed=7)


def test_generator_writes_four_16bit_mono_wavs(clips):
    assert [p.name for p in clips] == list(speech_clips.CLIP_FILES)
    for path in clips:
        rate, data = wavfile.read(path)
        assert rate == speech_clips.SAMPLE_RATE
        assert data.dtype == np.int16 and data.ndim == 1
        assert 1.5 < len(data) / rate < 6
    durations = [len(wavfile.read(p)[1]) for p in clips]
    assert durations[1] > 1.3 * durations[0]  # clip 2 is spoken more slowly


def test_clip_4_is_a_second_take_not_a_copy(clips):
    one, four = (wavfile.read(p)[1].astype(float) for p in (clips[0], clips[3]))
    assert len(one) != len(four)  # its own timing
    lead = int(0.04 * speech_clips.SAMPLE_RATE)  # the silence before the first word: pure noise
    noise_corr = np.corrcoef(one[:lead], four[:lead])[0, 1]
    assert abs(noise_corr) < 0.2  # its own room noise, not clip 1's
    n = min(len(one), len(four))
    assert np.abs(one[:n] - four[:n]).mean() > 0.05 * np.abs(one).mean()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 11, 23])
def test_book_ordering_is_what_these_voices_give_for_several_seeds(tmp_path, seed):
    """Measured, not planted: with a second take (clip 4) that has its own noise and timing,
    d(1,4) < d(1,3) < d(1,2) on the raw waveforms, with margins, for several seeds."""
    waves = [speech_clips.load_wav(p)[1] for p in speech_clips.generate(tmp_path, seed=seed)]
    d12, d13, d14 = (fastdtw(waves[0], waves[k], radius=20)[0] for k in (1, 2, 3))
    assert d14 < 0.8 * d13
    assert d13 < 0.8 * d12


def test_load_wav_scales_and_mixes_down(tmp_path):
    stereo = np.stack([np.full(100, 1000, np.int16), np.full(100, 3000, np.int16)], axis=1)
    wavfile.write(tmp_path / "s.wav", 8000, stereo)
    rate, mono = speech_clips.load_wav(tmp_path / "s.wav")
    assert rate == 8000 and mono.shape == (100,) and mono.dtype == np.float64
    assert np.all(mono == 2000.0)


def test_non_wav_file_gets_a_clear_error(tmp_path):
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio")
    with pytest.raises(DatasetFormatError, match=r"notes\.wav: not a WAV file .*RIFF/WAVE"):
        speech_clips.load_wav(fake)
    truncated = tmp_path / "cut.wav"
    wavfile.write(truncated, 8000, np.zeros(1000, np.int16))
    truncated.write_bytes(truncated.read_bytes()[:30])
    with pytest.raises(DatasetFormatError, match=r"cut\.wav: unreadable WAV data"):
        speech_clips.load_wav(truncated)
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        speech_clips.load_wav(tmp_path / "missing.wav")


def test_audio_dir_needs_four_wavs(tmp_path, clips):
    for p in clips[:3]:
        (tmp_path / p.name).write_bytes(p.read_bytes())
    (tmp_path / "readme.txt").write_text("not a clip")
    with pytest.raises(DatasetFormatError, match="needs 4 WAV files .* found 3"):
        speech_clips.prepare(audio_dir=tmp_path)
    (tmp_path / clips[3].name).write_bytes(clips[3].read_bytes())
    own = speech_clips.prepare(audio_dir=tmp_path)
    assert [p.name for p in own.clips] == [p.name for p in clips] and own.source == "real"
    with pytest.raises(DatasetFormatError, match="no .wav files"):
        speech_clips.list_wavs(tmp_path / "..")  # the pytest tmp root has folders only


@pytest.mark.realdata
def test_real_clips_come_from_the_mirror(mirror):
    files = speech_clips.prepare("real")
    assert files.source == "real"
    paths = files.clips
    assert [p.name for p in paths] == list(speech_clips.REAL_CLIPS)
    for path in paths:
        assert path.is_relative_to(mirror)
        rate, data = speech_clips.load_wav(path)
        assert rate == 8000 and len(data) > 1000
