// Test files run in a vm context: give it the disposal symbols `await using` needs.
import '../lib/util/dispose-symbol'
