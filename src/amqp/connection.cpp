#include "amqp/connection.hpp"
