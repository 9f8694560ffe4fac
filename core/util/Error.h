#pragma once
// One small error type for the engine: a kind and a message that names the file/key/field and the cause.
#include <stdexcept>
#include <string>

namespace ls {

enum class ErrorKind {
    Io, // a file cannot be opened, read or written
    Format, // a file is malformed (bad header, truncated, lying offsets)
    Security, // a file asks for something we refuse to do (pickle globals, absurd sizes)
    Unsupported, // understood, but not supported (family, dtype, option)
    Mismatch, // weights do not fit the model (missing/unexpected/shape)
    InvalidInput, // a request or argument is wrong
    Cancelled, // the user stopped a job (a status, not a failure)
    OutOfMemory, // a request did not fit (estimated before, or caught while running)
    Internal,
};

const char* errorKindName(ErrorKind kind);

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message)
        : std::runtime_error(message)
        , m_kind(kind)
    {
    }
    ErrorKind kind() const { return m_kind; }

private:
    ErrorKind m_kind;
};

[[noreturn]] inline void fail(ErrorKind kind, const std::string& message) { throw Error(kind, message); }

} // namespace ls
