"""Speech clips for chapter 1 (DTW background): WAV loader, FSDD download spec, synthesiser.

The chapter compares four clips: (1) a base utterance; (2) the same words with exaggerated tone
and a slower, uneven pace; (3) different words in the same voice and pace as (1); (4) the same
words with a tone and pace close to (1).

- Embedded default: :func:`generate` synthesises the four clips with a small source-filter
  (formant) synthesiser: a glottal pulse train at a time-varying pitch, shaped by three formant
  resonators that glide between phonemes, plus filtered noise for fricatives and stop bursts.
  Speaking rate scales phoneme durations; intonation scales the pitch contour and loudness.
- Real data: the Free Spoken Digit Dataset (FSDD, CC BY-SA 4.0), 8 kHz mono 16-bit recordings of
  spoken digits by several speakers; or any folder of the user's own WAV files.

:func:`prepare` returns a :class:`SpeechClipFiles` for any of these.
"""

from __future__ import annotations

import struct
import warnings
import wave
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from scipy import signal
from scipy.io import wavfile

from cookbook.datasets._fetch import DownloadSpec, RemoteFile, fetch
from cookbook.datasets._synthetic import check_source, ensure_generated
from cookbook.datasets.errors import DatasetFormatError
from cookbook.io import atomic_path

NAME = "speech_clips"
GENERATOR_VERSION = 2  # 2: clip 4 is a second take, not a copy of clip 1's noise
SAMPLE_RATE = 16_000
CLIP_FILES = (
    "clip1_base.wav",
    "clip2_exaggerated_slow.wav",
    "clip3_other_words.wav",
    "clip4_similar.wav",
)
# The generator's parameters and their defaults (read-only), for generate() and prepare().
DEFAULTS = MappingProxyType({"seed": 7, "sample_rate": SAMPLE_RATE})

_FSDD_COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
_FSDD_SHA256 = {
    "0_jackson_0.wav": "eea86018ce1730baaf7f5dd6ec88c1f727dd90203521a9115b489310a248ea05",
    "0_nicolas_0.wav": "527b1d27c2b931204b24995f035580dd248b908978a27756b4698ce0aa7e1aa8",
    "1_jackson_0.wav": "b3739400f793620875bb7849bfd8629dc6b2966ed6bda8276aa14178a612f13a",
    "1_jackson_1.wav": "5a5b281a28fa451318629ea46eea07465543acfaa92d3ec8deac3c4a971a03d3",
    "1_jackson_2.wav": "951b095b2b0b203a3a81581f1e908e2fb0968d94fccaab088dfa332ebc57d9c6",
    "1_nicolas_0.wav": "d57a29689b0abf1ab609ab401dd4053dbc18c317a4ed9ebed6a9aa034e9bab0a",
    "1_nicolas_1.wav": "ab699c577558d9b17afbf3714ae7484195ce93d855d9bfb43151ad573689e15a",
    "1_nicolas_2.wav": "9d6d96e320efc3b931c246f1164963956f944fa74fb744cd5ca573af75229a2f",
    "1_theo_0.wav": "a856fff7bcb68328a76b269c0d8b1d4269c28ac7e3d6725fe9da5bdd05405b55",
    "1_theo_1.wav": "067eb9f036e0d05e4967a0e7c910131d92d2493b52cb527bacc001229765ac1f",
    "1_theo_2.wav": "f0c9e5e3749425ec404265accc84a19305bac7bdeea60100402f6a55f47ad289",
    "7_jackson_0.wav": "bd4f5fa8db9a8a8d14a88236da314cd38fce2370cc406181b2485e03437d55d3",
    "7_jackson_1.wav": "762dfcc851874c662ab1b12e68d875733ee32bde15f8516cd491e058511c5ac8",
    "7_jackson_2.wav": "caa4216532464ddbd435e4f42a4617d937779c4a14d10d74bb00aeda4bda89a8",
    "7_nicolas_0.wav": "615dc2a2ba6e915521151479bbec3724bd1f5e0c839bb57b693c45f897a174a3",
    "7_nicolas_1.wav": "8df620ef0ecf9ffaf962154d9eed7097811d743a1f50d607a3a91ffac14740dd",
    "7_nicolas_2.wav": "4b95334af5a5041553c45f9254e670094b4404371e34c60702a9c317f6b1130a",
    "7_theo_0.wav": "3074f5a5db8a3588bc8616c5888fa25bbac2c71728d14a6b413baf89d779ef70",
    "7_theo_1.wav": "2dfca73538ec2a6b9f3c90bc3be1d5dd5ce19fb074f0a28768c91857dce2a58e",
    "7_theo_2.wav": "4a9319c997a0d6a9f9d465c984432e1c858a0aa4f2a33bc14f68626ee12c1ad0",
}

SPEC = DownloadSpec(
    name=NAME,
    title="Free Spoken Digit Dataset (FSDD)",
    homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
    license="CC BY-SA 4.0 (Z. Jackson et al.)",
    files=tuple(
        RemoteFile(
            filename=name,
            url="https://raw.githubusercontent.com/Jakobovski/free-spoken-digit-dataset/"
            f"{_FSDD_COMMIT}/recordings/{name}",
            sha256=sha,
            mirror_path=f"fsdd_wavs/{name}",
        )
        for name, sha in _FSDD_SHA256.items()
    ),
    notes="Recordings are named {digit}_{speaker}_{repetition}.wav, mono 16-bit PCM at 8 kHz.",
)

# Real-data stand-ins for the four roles, from FSDD: the same word by the same speaker is the
# "similar" clip, another word by that speaker the "other words" clip, and the same word by
# another speaker (other pitch, pace and loudness) the "exaggerated" clip.
REAL_CLIPS = ("7_jackson_0.wav", "7_theo_0.wav", "1_jackson_0.wav", "7_jackson_1.wav")


@dataclass(frozen=True)
class SpeechClipFiles:
    """What :func:`prepare` returns.

    - ``clips``: the four WAV files, clip 1 to clip 4 (see the module's docstring for their
      roles); read each with :func:`load_wav`;
    - ``source``: ``"synthetic"``, or ``"real"`` (FSDD recordings, or a folder of your own).
    """

    clips: tuple[Path, ...]
    source: str


# --------------------------------------------------------------------------- reading WAV files


@dataclass(frozen=True)
class WavFormat:
    """What a WAV file's header says (see :func:`wav_format`)."""

    sample_rate: int
    channels: int
    bits: int
    encoding: str  # "int" (PCM) or "float" (IEEE float)
    n_frames: int

    def describe(self) -> str:
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels} channels")
        kind = "integer PCM" if self.encoding == "int" else "float"
        return f"{self.bits}-bit {kind} at {self.sample_rate} Hz, {layout}"

    def same_samples(self, other: WavFormat) -> bool:
        """Same rate and sample type (what DTW on raw waveforms needs); channels may differ."""
        return (self.sample_rate, self.bits, self.encoding) == (
            other.sample_rate,
            other.bits,
            other.encoding,
        )


_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE


def wav_format(path: str | Path) -> WavFormat:
    """Parse a WAV file's RIFF chunks and check them; return its :class:`WavFormat`.

    Raises :class:`DatasetFormatError` naming the file, the byte offset and what was expected
    for: no RIFF/WAVE header, bytes after the header that are not RIFF chunks (garbage), a
    chunk running past the end of the file, a data chunk shorter than it declares (a truncated
    file: the share of the samples present is given), no ``fmt``/``data`` chunk, a sample
    format other than integer PCM or IEEE float, an implausible sample rate, channel count or
    frame size, and an empty data chunk.
    """
    path = check_wav(path, _parse=False)
    bad = f"{path}: unreadable WAV data"
    data = path.read_bytes()
    size = len(data)
    fmt, pos = None, 12
    while pos + 8 <= size:
        chunk_id, length = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if not all(32 <= b < 127 for b in chunk_id):
            raise DatasetFormatError(
                f"{bad}: byte {pos}: expected a RIFF chunk id (like b'fmt ' or b'data'), found "
                f"{chunk_id!r}: the file is corrupt after its header"
            )
        body = pos + 8
        if chunk_id != b"data" and body + length > size:
            raise DatasetFormatError(
                f"{bad}: byte {pos}: chunk {chunk_id!r} declares {length:,} bytes but the file "
                f"ends {size - body:,} bytes later: the file is truncated or corrupt"
            )
        if chunk_id == b"fmt ":
            fmt = _parse_fmt(data[body : body + length], path, pos)
        elif chunk_id == b"data":
            if fmt is None:
                raise DatasetFormatError(
                    f"{bad}: byte {pos}: the data chunk comes before any 'fmt ' chunk; "
                    "expected the format first"
                )
            rate, channels, bits, encoding, align = fmt
            available = size - body
            if length > available:
                raise DatasetFormatError(
                    f"{bad}: truncated: the data chunk declares {length:,} bytes of samples but "
                    f"only {available:,} follow ({available / length:.0%} of the clip); "
                    "expected the whole clip (copy or download it again)"
                )
            if length == 0:
                raise DatasetFormatError(f"{bad}: the WAV file holds no samples")
            if length % align:
                raise DatasetFormatError(
                    f"{bad}: the data chunk holds {length:,} bytes, not a whole number of "
                    f"{align}-byte frames; the file is corrupt"
                )
            return WavFormat(rate, channels, bits, encoding, length // align)
        pos = body + length + (length & 1)  # chunks are padded to an even length
    what = "'fmt ' and 'data' chunks" if fmt is None else "a 'data' chunk"
    raise DatasetFormatError(
        f"{bad}: no {what} in its {size:,} bytes; expected a WAV file with a format and samples "
        "(truncated after the header?)"
    )


def _parse_fmt(body: bytes, path: Path, pos: int):
    bad = f"{path}: unreadable WAV data"
    if len(body) < 16:
        raise DatasetFormatError(
            f"{bad}: byte {pos}: the 'fmt ' chunk has {len(body)} bytes, expected 16 or more"
        )
    tag, channels, rate, _, align, bits = struct.unpack("<HHIIHH", body[:16])
    if tag == _EXTENSIBLE and len(body) >= 26:
        tag = struct.unpack("<H", body[24:26])[0]  # the sub-format GUID starts with the tag
    encoding = {_PCM: "int", _FLOAT: "float"}.get(tag)
    if encoding is None:
        raise DatasetFormatError(
            f"{bad}: sample format tag {tag:#06x} is not supported; expected integer PCM (1) "
            "or IEEE float (3), e.g. not a compressed (ADPCM, mu-law, MP3) WAV"
        )
    allowed = (8, 16, 24, 32, 64) if encoding == "int" else (32, 64)
    checks = (
        (1 <= channels <= 64, f"{channels} channels (expected 1..64)"),
        (1000 <= rate <= 768_000, f"a sample rate of {rate} Hz (expected 1000..768000)"),
        (bits in allowed, f"{bits}-bit {encoding} samples (expected {allowed})"),
        (align == channels * bits // 8, f"{align}-byte frames (expected {channels * bits // 8})"),
    )
    problems = [text for ok, text in checks if not ok]
    if problems:
        raise DatasetFormatError(
            f"{bad}: byte {pos}: the 'fmt ' chunk declares {'; '.join(problems)}; the header "
            "is corrupt or not a plain PCM WAV"
        )
    return rate, channels, bits, encoding, align


def check_wav(path: str | Path, _parse: bool = True) -> Path:
    """Return ``path`` if it is a complete, readable WAV file; else raise a clear error.

    :class:`DatasetFormatError` names the file and what was found instead (scipy's own message,
    "File format b'...' not understood", does not say which file): not a RIFF/WAVE header, a
    truncated data chunk, garbage after the header, an unsupported sample format (see
    :func:`wav_format`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"WAV file not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise DatasetFormatError(
            f"{path}: not a WAV file (expected a RIFF/WAVE header, found {head[:12]!r})"
        )
    if _parse:
        wav_format(path)
    return path


def load_wav(path: str | Path) -> tuple[int, np.ndarray]:
    """Read a PCM WAV file; return ``(sample_rate, samples)`` with samples as float64, mono.

    Integer PCM keeps its integer scale (e.g. -32768..32767 for 16-bit) so distances compare
    with the original publication's; stereo is averaged to mono. Raises
    :class:`DatasetFormatError` naming the file when it is not a complete, readable RIFF/WAVE
    file (see :func:`wav_format`) or holds samples that are not finite.
    """
    path = Path(path)
    fmt = wav_format(path)
    try:
        with warnings.catch_warnings():
            # the chunks were checked above; scipy only warns about chunks it skips (LIST, ...)
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(path)
    except (ValueError, EOFError, OSError, struct.error, wave.Error, UnboundLocalError) as exc:
        raise DatasetFormatError(f"{path}: unreadable WAV data: {exc}") from exc
    if data.size == 0:
        raise DatasetFormatError(f"{path}: the WAV file holds no samples")
    data = data.astype(np.float64)
    if fmt.encoding == "float" and not np.isfinite(data).all():
        at = int(np.flatnonzero(~np.isfinite(data.reshape(len(data), -1)).all(axis=1))[0])
        raise DatasetFormatError(
            f"{path}: sample {at} (at {at / rate:.3f} s) is not a finite number; expected "
            "finite float samples"
        )
    if data.ndim == 2:
        data = data.mean(axis=1)
    return int(rate), data


def check_clip_set(paths) -> list[WavFormat]:
    """Check that a set of clips can be compared: each a complete WAV, all in one format.

    DTW compares raw samples, so the clips must share one sample rate and one sample type
    (16-bit integers are not comparable with floats in -1..1 or 32-bit integers). The format
    most of the clips have is the reference; :class:`DatasetFormatError` names the first clip
    that differs, its format and the others'. Returns each clip's :class:`WavFormat`.
    """
    paths = [Path(p) for p in paths]
    formats = [wav_format(p) for p in paths]
    keys = [(f.sample_rate, f.bits, f.encoding) for f in formats]
    usual = max(keys, key=lambda k: (keys.count(k), -keys.index(k)))
    reference = formats[keys.index(usual)]
    for path, fmt in zip(paths, formats, strict=True):
        if not fmt.same_samples(reference):
            others = [p.name for p, k in zip(paths, keys, strict=True) if k == usual]
            raise DatasetFormatError(
                f"{path}: {fmt.describe()}, but {', '.join(others)} "
                f"{'is' if len(others) == 1 else 'are'} {reference.describe()}; expected all "
                "clips in one sample rate and sample format: convert this one (e.g. "
                "sox in.wav -r RATE -b 16 -e signed-integer out.wav)"
            )
    return formats


def list_wavs(folder: str | Path) -> list[Path]:
    """The ``*.wav`` files of a folder, sorted by name; a clear error if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"audio folder not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".wav")
    if not files:
        raise DatasetFormatError(f"{folder}: no .wav files found")
    return files


def fetch_real(config: dict | None = None, clips: tuple[str, ...] = REAL_CLIPS) -> list[Path]:
    """Paths to real FSDD clips (cache -> ``$COOKBOOK_DATA_MIRROR`` -> GitHub), verified."""
    return [fetch(SPEC, name, config=config) for name in clips]


# --------------------------------------------------------------------------- the synthesiser


# Phoneme inventory: kind, three formant frequencies (Hz), relative amplitude, base duration (s).
# Vowel formants follow Peterson & Barney's adult male averages.
@dataclass(frozen=True)
class Phone:
    kind: str  # "vowel", "voiced" (nasal/liquid/glide), "fricative", "stop", "pause"
    formants: tuple[float, float, float]
    amp: float
    dur: float
    noise_band: tuple[float, float] = (0.0, 0.0)


PHONES: dict[str, Phone] = {
    "iy": Phone("vowel", (270, 2290, 3010), 0.85, 0.13),
    "ih": Phone("vowel", (390, 1990, 2550), 0.85, 0.09),
    "eh": Phone("vowel", (530, 1840, 2480), 0.9, 0.10),
    "ae": Phone("vowel", (660, 1720, 2410), 1.0, 0.13),
    "aa": Phone("vowel", (730, 1090, 2440), 1.0, 0.14),
    "ao": Phone("vowel", (570, 840, 2410), 1.0, 0.14),
    "uh": Phone("vowel", (520, 1190, 2390), 0.9, 0.08),
    "uw": Phone("vowel", (300, 870, 2240), 0.8, 0.13),
    "er": Phone("vowel", (490, 1350, 1690), 0.85, 0.12),
    "m": Phone("voiced", (280, 900, 2200), 0.35, 0.07),
    "n": Phone("voiced", (280, 1700, 2600), 0.35, 0.06),
    "l": Phone("voiced", (360, 1300, 2700), 0.5, 0.06),
    "r": Phone("voiced", (420, 1300, 1600), 0.55, 0.06),
    "w": Phone("voiced", (300, 610, 2200), 0.5, 0.06),
    "y": Phone("voiced", (260, 2100, 3000), 0.5, 0.05),
    "z": Phone("fricative", (300, 1800, 2600), 0.25, 0.08, (3500, 7000)),
    "s": Phone("fricative", (300, 1800, 2600), 0.3, 0.10, (4000, 7500)),
    "f": Phone("fricative", (300, 1400, 2600), 0.12, 0.09, (1500, 7000)),
    "sh": Phone("fricative", (300, 1800, 2600), 0.3, 0.10, (2000, 5000)),
    "d": Phone("stop", (300, 1700, 2600), 0.3, 0.06, (2500, 5000)),
    "t": Phone("stop", (300, 1700, 2600), 0.35, 0.07, (3000, 6000)),
    "k": Phone("stop", (300, 1500, 2500), 0.35, 0.07, (1500, 3500)),
    "p": Phone("stop", (300, 900, 2200), 0.3, 0.06, (500, 2500)),
    "_": Phone("pause", (500, 1500, 2500), 0.0, 0.09),
}

# "Doors and corners, kid. That's where they get you."  /  "You walk into a room too fast."
BASE_WORDS = [
    ["d", "ao", "r", "z"], ["ae", "n", "d"], ["k", "ao", "r", "n", "er", "z"], ["_"],
    ["k", "ih", "d"], ["_"], ["th_d", "ae", "t", "s"], ["w", "eh", "r"], ["th_d", "eh"],
    ["k", "eh", "t"], ["y", "uw"],
]  # fmt: skip
OTHER_WORDS = [
    ["y", "uw"], ["w", "ao", "k"], ["ih", "n", "t", "uw"], ["uh"], ["r", "uw", "m"], ["_"],
    ["t", "uw"], ["f", "ae", "s", "t"], ["_"], ["th_d", "uh"], ["r", "uw", "m"],
    ["iy", "t", "s"], ["y", "uw"],
]  # fmt: skip
PHONES["th_d"] = PHONES["d"]  # voiced "th" rendered as a soft stop


@dataclass(frozen=True)
class Voice:
    """How a clip is spoken."""

    f0: float = 118.0  # base pitch, Hz
    rate: float = 1.0  # speaking rate (2.0 = twice as fast)
    unevenness: float = 0.0  # random per-phone duration spread (0 = even pace)
    intonation: float = 1.0  # scale of the pitch contour's swings
    accent: float = 0.0  # random per-word loudness swings (0 = steady)
    loudness: float = 0.5  # peak amplitude, fraction of full scale
    prosody_jitter: float = 0.0  # a new take's spread around the shared accents and pitch moves


def _resonator(freq: float, bw: float, fs: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.exp(-np.pi * bw / fs)
    theta = 2 * np.pi * freq / fs
    a = np.array([1.0, -2 * r * np.cos(theta), r * r])
    b = np.array([a.sum()])  # unity gain at DC
    return b, a


def synthesize(
    words: list[list[str]],
    voice: Voice,
    seed: int = 0,
    fs: int = SAMPLE_RATE,
    prosody_seed: int | None = None,
) -> np.ndarray:
    """Render a phoneme sequence (a list of words) to int16 samples at ``fs`` Hz.

    ``seed`` drives the noise and pace jitter; ``prosody_seed`` (default: ``seed``) the word
    accents and pitch movements, so that one speaker can read one sentence twice alike.
    """
    rng = np.random.default_rng(seed)
    prosody = np.random.default_rng(seed if prosody_seed is None else prosody_seed)
    phones: list[tuple[Phone, float, int]] = []  # (phone, duration, word index)
    for w, word in enumerate(words):
        for symbol in word:
            ph = PHONES[symbol]
            # always draw, so that voices differing only in delivery share the noise stream
            dur = ph.dur / voice.rate * float(np.exp(voice.unevenness * rng.normal()))
            phones.append((ph, dur, w))
    lead = int(0.05 * fs)
    lengths = [max(int(d * fs), 8) for _, d, _ in phones]
    n = lead * 2 + sum(lengths)
    t_end = n / fs

    # Per-sample targets: formants, voicing amplitude, noise amplitude and band.
    formants = np.zeros((3, n))
    voiced_amp = np.zeros(n)
    noise_amp = np.zeros(n)
    word_gain = 1 + voice.accent * prosody.uniform(-1, 1, len(words))
    # another take of the same reading: the intended accents and pitch moves (prosody), each
    # realised a little differently (drawn only when asked, so other voices keep their stream)
    take = (
        (lambda k: 1 + voice.prosody_jitter * rng.normal(size=k))
        if voice.prosody_jitter
        else (lambda k: np.ones(k))
    )
    word_gain *= take(len(words))
    pos = lead
    bursts: list[tuple[int, int, tuple[float, float], float]] = []
    for (ph, _, w), length in zip(phones, lengths, strict=True):
        sl = slice(pos, pos + length)
        formants[:, sl] = np.asarray(ph.formants)[:, None]
        gain = word_gain[w]
        if ph.kind in ("vowel", "voiced"):
            voiced_amp[sl] = ph.amp * gain
        elif ph.kind == "fricative":
            noise_amp[sl] = ph.amp * gain
            bursts.append((pos, length, ph.noise_band, ph.amp * gain))
            if ph.formants and ph.noise_band[0] < 4000 and ph is PHONES["z"]:
                voiced_amp[sl] = 0.15 * gain
        elif ph.kind == "stop":
            closure = int(0.6 * length)
            bursts.append((pos + closure, length - closure, ph.noise_band, ph.amp * gain))
        pos += length
    formants[:, :lead] = formants[:, lead : lead + 1]
    formants[:, pos:] = formants[:, pos - 1 : pos]
    # Smooth transitions: formant glides (~30 ms) and amplitude ramps (~15 ms).
    glide = signal.windows.hann(max(int(0.03 * fs), 3))
    glide /= glide.sum()
    ramp = signal.windows.hann(max(int(0.015 * fs), 3))
    ramp /= ramp.sum()
    formants = np.vstack([np.convolve(f, glide, mode="same") for f in formants])
    voiced_amp = np.convolve(voiced_amp, ramp, mode="same")

    # Pitch: declination, a rise-fall on each word, scaled by the voice's intonation.
    time = np.arange(n) / fs
    contour = -0.18 * time / t_end  # declination over the utterance
    pos = lead
    for w in range(len(words)):
        span = sum(length for (_, _, ww), length in zip(phones, lengths, strict=True) if ww == w)
        if span:
            x = np.linspace(0, np.pi, span)
            contour[pos : pos + span] += 0.12 * np.sin(x) * prosody.uniform(0.6, 1.4) * take(1)[0]
        pos += span
    f0 = voice.f0 * np.exp(voice.intonation * contour + 0.005 * rng.standard_normal(n))
    phase = np.cumsum(2 * np.pi * f0 / fs)
    # Glottal source: a band-limited pulse train with a -12 dB/octave tilt, plus aspiration.
    harmonics = np.arange(1, int(fs / 2 / voice.f0 / 1.3))
    source = np.zeros(n)
    for h in harmonics:
        alias = (h * f0) < fs / 2 * 0.95
        source += alias * np.cos(h * phase) / h**2
    source /= np.abs(source).max()
    source += 0.02 * rng.standard_normal(n)

    # Time-varying cascade of formant resonators, applied block by block with carried state.
    bandwidths = (70.0, 100.0, 140.0)
    block = int(0.005 * fs)
    voiced = source * voiced_amp
    zi = [np.zeros(2) for _ in range(3)]
    out = np.zeros(n)
    for start in range(0, n, block):
        seg = voiced[start : start + block]
        for k in range(3):
            b, a = _resonator(float(formants[k, start]), bandwidths[k], fs)
            seg, zi[k] = signal.lfilter(b, a, seg, zi=zi[k])
        out[start : start + block] = seg
    # Fricatives and stop bursts: band-passed noise with short attack/decay.
    for start, length, (lo, hi), amp in bursts:
        hi = min(hi, 0.45 * fs)
        sos = signal.butter(4, [lo, hi], btype="bandpass", fs=fs, output="sos")
        noise = signal.sosfilt(sos, rng.standard_normal(length + 64))[64:]
        env = np.minimum(1, np.minimum(np.arange(length), np.arange(length)[::-1]) / (0.01 * fs))
        out[start : start + length] += amp * 0.6 * noise / (np.abs(noise).max() + 1e-9) * env
    out /= np.abs(out).max() + 1e-12
    out *= voice.loudness
    out += 0.002 * rng.standard_normal(n)  # room noise floor
    return np.round(np.clip(out, -1, 1) * 32767).astype(np.int16)


def clip_voices() -> dict[str, tuple[list[list[str]], Voice, int]]:
    """The four clips of the chapter: words, voice and noise seed offset of each."""
    base = Voice()
    return {
        CLIP_FILES[0]: (BASE_WORDS, base, 0),
        # same words, exaggerated intonation and loudness swings, slower and uneven pace
        CLIP_FILES[1]: (
            BASE_WORDS,
            Voice(f0=128, rate=0.68, unevenness=0.3, intonation=3.0, accent=0.5, loudness=0.95),
            1,
        ),
        # different words, same voice and pace
        CLIP_FILES[2]: (OTHER_WORDS, base, 2),
        # a second take of clip 1: the same words and speaker, recorded again, with its own
        # noise, timing jitter and small variations in pitch, pace, loudness and accents
        CLIP_FILES[3]: (
            BASE_WORDS,
            Voice(
                f0=119.5,
                rate=1.04,
                unevenness=0.08,
                intonation=1.05,
                loudness=0.53,
                prosody_jitter=0.15,
            ),
            3,
        ),
    }


def generate(
    folder: str | Path, seed: int = DEFAULTS["seed"], sample_rate: int = DEFAULTS["sample_rate"]
) -> list[Path]:
    """Write the four synthetic clips (16-bit mono WAV) into ``folder``; return their paths."""
    folder = Path(folder)
    paths = []
    for name, (words, voice, offset) in clip_voices().items():
        samples = synthesize(
            words, voice, seed=seed * 100 + offset, fs=sample_rate, prosody_seed=seed
        )
        target = folder / name
        with atomic_path(target) as tmp:
            wavfile.write(tmp, sample_rate, samples)
        paths.append(target)
    return paths


def prepare(
    source: str = "synthetic",
    *,
    seed: int = DEFAULTS["seed"],
    sample_rate: int = DEFAULTS["sample_rate"],
    audio_dir: str | Path | None = None,
    config: dict | None = None,
) -> SpeechClipFiles:
    """The four clips for ``source``: ``"synthetic"`` (generated once per parameters, cached),
    ``"real"`` (FSDD stand-ins, see :data:`REAL_CLIPS`), or, whatever ``source`` says,
    ``audio_dir``: the first four WAVs of a folder of your own, sorted by name (clip 1 first;
    ``source`` is then ``"real"``). The generator's parameters apply to ``"synthetic"`` only.
    The four clips are checked (:func:`check_clip_set`): each a complete WAV file, all in one
    sample rate and sample format; an error names the clip that differs."""
    check_source(source)
    if audio_dir:
        files = list_wavs(audio_dir)
        if len(files) < 4:
            raise DatasetFormatError(
                f"{audio_dir}: needs 4 WAV files (clip 1 to 4, sorted by name), found {len(files)}"
            )
        check_clip_set(files[:4])
        return SpeechClipFiles(clips=tuple(files[:4]), source="real")
    if source == "real":
        clips = tuple(fetch_real(config))
    else:
        params = {"seed": seed, "sample_rate": sample_rate}
        folder = ensure_generated(NAME, params, generate, config, version=GENERATOR_VERSION)
        clips = tuple(folder / name for name in CLIP_FILES)
    check_clip_set(clips)
    return SpeechClipFiles(clips=clips, source=source)
