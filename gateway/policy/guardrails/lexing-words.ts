/**
 * What a text must contain to reach a built-in lexing rule (client_encoding,
 * NAMES, standard_conforming_strings, set_config, pg_settings — also through a
 * Unicode-escaped identifier U&"…" or an escaped string body with a backslash).
 * A text without any of them cannot change how the server reads the client's text.
 */
export const LEXING_WORDS = /client_encoding|names|standard_conforming_strings|set_config|pg_settings|u&|\\/i;
