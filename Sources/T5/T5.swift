// Module T5. See docs/architecture.md for what lives here.
import TensorCore
