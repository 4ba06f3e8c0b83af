// The client's failures, split by what the caller does about them (the CLI maps them to exit codes).
#pragma once

#include <stdexcept>
#include <string>

namespace warren::client {

// A bad URL, an answer that is not what the API promises, anything on our side.
class ClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// No answer from the server: it could not be resolved, refused the connection, or timed out.
class UnreachableError : public ClientError {
 public:
  using ClientError::ClientError;
};

// The API answered with an error: its status and the {"error": {"code", "message"}} body.
class ApiError : public ClientError {
 public:
  ApiError(int status, std::string code, const std::string& message)
      : ClientError(message), status_(status), code_(std::move(code)) {}
  [[nodiscard]] int Status() const { return status_; }
  [[nodiscard]] const std::string& Code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

}  // namespace warren::client
