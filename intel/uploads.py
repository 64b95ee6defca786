"""The upload size limit of imports, applied while the request body is read: a file over
IMPORT_MAX_FILE_BYTES is refused (413) before it is stored, with nothing left behind."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from rest_framework import status
from rest_framework.exceptions import APIException

# Room in a multipart body for the boundaries and part headers around the file.
MULTIPART_ALLOWANCE = 64 * 1024


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"

    def __init__(self, limit: int):
        super().__init__({"file": [f"the file is larger than {limit} bytes (IMPORT_MAX_FILE_BYTES)"]})


class ImportUploadLimit(FileUploadHandler):
    """First of the request's upload handlers. Refuses a body whose Content-Length already
    says it is too large before reading any of it, and, since Content-Length may be absent
    or wrong, counts each file's bytes as they stream and stops past the limit, deleting
    what the handlers after it had stored (a temporary file)."""

    def __init__(self, request: HttpRequest, limit: int):
        super().__init__(request)
        self.limit = limit

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None) -> None:
        if content_length > self.limit + MULTIPART_ALLOWANCE:
            raise UploadTooLarge(self.limit)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            for handler in self.request.upload_handlers:
                if getattr(handler, "file", None) is not None:
                    handler.file.close()  # a temporary upload file is deleted on close
            raise UploadTooLarge(self.limit)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def limit_import_upload(request: HttpRequest) -> None:
    """Puts the limit first among `request`'s upload handlers; call before the body is read."""
    request.upload_handlers.insert(0, ImportUploadLimit(request, settings.IMPORT_MAX_FILE_BYTES))
