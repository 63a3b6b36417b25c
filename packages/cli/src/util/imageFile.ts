/** Kept for existing imports: the one module that opens inputs is inputs.ts. */
export { openImage, type ImageFile } from "./inputs.js";
