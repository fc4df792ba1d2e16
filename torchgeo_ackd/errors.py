"""Errors every layer raises and the command line reports without a traceback."""

from pathlib import Path

#: Each stage's config in ``conf/`` and what it writes (the defaults).
STAGE_CONFIGS = {
    'teacher': 'conf/teacher.yaml',
    'matcher': 'conf/matcher.yaml',
    'student': 'conf/ackd.yaml',
}


class MissingStageOutputError(FileNotFoundError):
    """A file an earlier stage writes is not there: that stage has not run.

    ``torchgeo-ackd`` prints the message alone and exits with status 2.

    Attributes:
        path: The missing file.
        stage: The stage that writes it (``'teacher'``, ``'matcher'``).
    """

    def __init__(
        self, what: str, path: str | Path, stage: str, detail: str = ''
    ) -> None:
        """Initialize a new MissingStageOutputError instance.

        Args:
            what: What the file is, e.g. ``'teacher weights'``.
            path: The missing file.
            stage: The stage that writes it, a key of :data:`STAGE_CONFIGS`.
            detail: What else the value could have been, added to the message.
        """
        self.path = Path(path)
        self.stage = stage
        config = STAGE_CONFIGS[stage]
        message = (
            f'{what} {str(path)!r} does not exist{detail}. It is written by the '
            f'{stage} stage: run it first, e.g. torchgeo-ackd fit --config {config} '
            '(with your data options), or the whole pipeline: '
            'python -m torchgeo_ackd.pipeline --root ROOT'
        )
        super().__init__(message)
