// Scores PMML documents with Weka's own PMML consumer (weka.core.pmml), an evaluator
// independent of ours. Usage: java -cp weka.jar:. WekaPMML model.pmml data.arff
// prints one line per instance: the distribution (classification) or the value (regression).
import java.io.FileReader;
import weka.classifiers.pmml.consumer.PMMLClassifier;
import weka.core.Instances;
import weka.core.pmml.PMMLFactory;
import weka.core.pmml.PMMLModel;

public class WekaPMML {
    public static void main(String[] args) throws Exception {
        PMMLModel model = PMMLFactory.getPMMLModel(args[0]);
        PMMLClassifier c = (PMMLClassifier) model;
        Instances data = new Instances(new FileReader(args[1]));
        data.setClassIndex(data.numAttributes() - 1);
        for (int i = 0; i < data.numInstances(); i++) {
            double[] d = c.distributionForInstance(data.instance(i));
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < d.length; k++) {
                if (k > 0) sb.append(' ');
                sb.append(Double.toString(d[k]));
            }
            System.out.println(sb);
        }
    }
}
