export { main, makeProgram, VERSION } from "./main.js";
export { CliError, Exit } from "./util/errors.js";
