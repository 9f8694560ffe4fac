#include "util/Error.h"

namespace ls {

const char* errorKindName(ErrorKind kind)
{
    switch (kind) {
    case ErrorKind::Io:
        return "I/O error";
    case ErrorKind::Format:
        return "format error";
    case ErrorKind::Security:
        return "refused";
    case ErrorKind::Unsupported:
        return "unsupported";
    case ErrorKind::Mismatch:
        return "mismatch";
    case ErrorKind::InvalidInput:
        return "invalid input";
    case ErrorKind::Cancelled:
        return "cancelled";
    case ErrorKind::OutOfMemory:
        return "out of memory";
    case ErrorKind::Internal:
        return "internal error";
    }
    return "error";
}

} // namespace ls
